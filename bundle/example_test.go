package bundle_test

import (
	"fmt"
	"os"

	"github.com/tufkeys/tufkeys/bundle"
)

// A registry's key list and a version document, as the registry serves
// them, verified offline.
func ExampleVerifier_Verify() {
	keys, _ := os.ReadFile("testdata/npm/keys.json")
	doc, _ := os.ReadFile("testdata/npm/pnpm@10.1.0.json")
	list, err := bundle.Parse(keys)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := bundle.NewVerifier(&list.List)
	if err != nil {
		fmt.Println(err)
		return
	}
	version, err := bundle.ParseManifest(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := v.Verify(version)
	fmt.Println(res.Package, res.VerifiedBy, err)
	// Output: pnpm@10.1.0 [SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U] <nil>
}

// The value Corepack reads from COREPACK_INTEGRITY_KEYS.
func ExampleEncode() {
	keys, _ := os.ReadFile("testdata/npm/keys.json")
	list, _ := bundle.Parse(keys)
	value, _ := bundle.Encode(&list.List, bundle.FormCorepack)
	fmt.Println(len(value) > 0, list.Form, len(list.List.Keys))
	// Output: true npm 2
}
