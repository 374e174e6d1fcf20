package bundle

import "fmt"

// MaxManifestBytes bounds a version document. Registry version documents
// are a few KiB; the bound leaves room for long descriptions.
const MaxManifestBytes = 8 << 20

type manifestDist struct {
	Integrity  string      `json:"integrity"`
	Signatures []Signature `json:"signatures"`
}

type manifest struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// the registry's version document nests integrity and signatures in dist
	Dist *manifestDist `json:"dist"`
	// the flat form keeps them at the top level
	Integrity  string      `json:"integrity"`
	Signatures []Signature `json:"signatures"`
}

// ParseManifest reads a version document: either the registry's form, with
// dist.integrity and dist.signatures, or the flat form with integrity and
// signatures at the top level. The publish time is not part of either and
// stays zero.
func ParseManifest(data []byte) (Version, error) {
	if len(data) > MaxManifestBytes {
		return Version{}, errorOf(ErrMalformed, "version document is %d bytes, more than the %d allowed", len(data), MaxManifestBytes)
	}
	var m manifest
	if err := decodeOne(data, &m, false); err != nil {
		return Version{}, fmt.Errorf("version document is not of the expected shape: %w", err)
	}
	v := Version{Name: m.Name, Version: m.Version, Integrity: m.Integrity, Signatures: m.Signatures}
	if m.Dist != nil {
		if m.Integrity != "" || m.Signatures != nil {
			return Version{}, errorOf(ErrMalformed, "version document has integrity or signatures both inside and outside dist")
		}
		v.Integrity, v.Signatures = m.Dist.Integrity, m.Dist.Signatures
	}
	if err := checkVersion(v); err != nil {
		return Version{}, err
	}
	return v, nil
}
