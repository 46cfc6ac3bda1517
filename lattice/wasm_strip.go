package lattice

// StripClaims returns the module without its jwt and wasmcloud_jwt custom sections: the bytes the
// claims' hash covers. Hosts compile these, so re-signing a module does not change what is compiled.
func StripClaims(module []byte) ([]byte, error) {
	sections, err := parseSections(module)
	if err != nil {
		return nil, err
	}
	return stripJWT(module, sections), nil
}
