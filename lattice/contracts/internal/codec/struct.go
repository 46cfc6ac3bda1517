package codec

// DecodeStruct reads a struct whose fields are named, in order, by names: from a map of named
// fields (unknown names are skipped, missing fields are left alone), from an array with one
// element per field, or from nil. field reads the value of field i from d.
func DecodeStruct(d *Decoder, names []string, field func(i int, d *Decoder) error) error {
	n, array, err := d.Struct(len(names))
	for i := 0; i < n && err == nil; i++ {
		if array {
			err = field(i, d)
			continue
		}
		var k []byte
		if k, err = d.RawString(); err != nil {
			break
		}
		f := -1
		for j, name := range names {
			if Equal(k, name) {
				f = j
				break
			}
		}
		if f < 0 {
			err = d.Skip()
		} else {
			err = field(f, d)
		}
	}
	return err
}

// Int32 reads an integer that must fit an int32.
func (d *Decoder) Int32() (int32, error) {
	v, err := d.Int(-1<<31, 1<<31-1)
	return int32(v), err
}

// Uint32 reads an integer that must fit a uint32.
func (d *Decoder) Uint32() (uint32, error) {
	v, err := d.Uint(1<<32 - 1)
	return uint32(v), err
}
