package bundle

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"
)

// The overhead of the public API over a bare ECDSA verification is the
// ratio of BenchmarkVerify to BenchmarkVerifyBaseline; BenchmarkVerifyRatio
// measures both in alternation and reports the ratio directly.

func benchmarkFixture(b *testing.B) (*Verifier, Version) {
	b.Helper()
	return realVerifier(b, "npm/keys.json"), realVersion(b, "pnpm@10.1.0")
}

func BenchmarkVerify(b *testing.B) {
	v, ver := benchmarkFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ver); err != nil {
			b.Fatal(err)
		}
	}
}

// baselineVerify is the least any verifier must do: hash the message and
// check one ECDSA signature, with key and signature already decoded.
func baselineVerify(pub *ecdsa.PublicKey, msg string, sig []byte) bool {
	digest := sha256.Sum256([]byte(msg))
	return ecdsa.VerifyASN1(pub, digest[:], sig)
}

func baselineFixture(b *testing.B) (*ecdsa.PublicKey, string, []byte) {
	b.Helper()
	_, ver := benchmarkFixture(b)
	p := parseTestdata(b, "npm/keys.json")
	k, _ := p.List.Find(ver.Signatures[0].KeyID)
	pub, err := ParsePublicKey(k.Key)
	if err != nil {
		b.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(ver.Signatures[0].Sig)
	if err != nil {
		b.Fatal(err)
	}
	return pub, ver.Name + "@" + ver.Version + ":" + ver.Integrity, sig
}

func BenchmarkVerifyBaseline(b *testing.B) {
	pub, msg, sig := baselineFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if !baselineVerify(pub, msg, sig) {
			b.Fatal("baseline verification failed")
		}
	}
}

func BenchmarkVerifyRatio(b *testing.B) {
	v, ver := benchmarkFixture(b)
	pub, msg, sig := baselineFixture(b)
	var api, base time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := v.Verify(ver); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if !baselineVerify(pub, msg, sig) {
			b.Fatal("baseline verification failed")
		}
		api += t1.Sub(t0)
		base += time.Since(t1)
	}
	b.ReportMetric(float64(api.Nanoseconds())/float64(b.N), "api-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/op")
	b.ReportMetric(float64(api)/float64(base), "ratio")
}
