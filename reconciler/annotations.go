package reconciler

// Annotations on what the reconciler starts (actor instances, providers). wadm marks what it
// manages the same way; the component annotation is Trellis's.
const (
	AnnotationManagedBy = "wasmcloud.dev/managed-by"
	AnnotationAppSpec   = "wasmcloud.dev/appspec"
	AnnotationComponent = "trellis.dev/component"
	AnnotationSpread    = "wasmcloud.dev/spread_name"

	// ManagedBy is the value of AnnotationManagedBy.
	ManagedBy = "trellis"
)

// defaultSpread names the one spread of a scaler that lists none.
const defaultSpread = "default"

// managedBy reports whether annotations mark something as started by the reconciler, and for
// which app, component and spread.
func managedBy(a map[string]string) (appName, component, spread string, ok bool) {
	if a[AnnotationManagedBy] != ManagedBy || a[AnnotationAppSpec] == "" {
		return "", "", "", false
	}
	return a[AnnotationAppSpec], a[AnnotationComponent], a[AnnotationSpread], true
}

func annotations(appName, component, spread string) map[string]string {
	a := map[string]string{
		AnnotationManagedBy: ManagedBy,
		AnnotationAppSpec:   appName,
		AnnotationComponent: component,
	}
	if spread != "" {
		a[AnnotationSpread] = spread
	}
	return a
}
