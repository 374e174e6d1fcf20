//go:build !tufkeys_client

package main

import (
	"strings"

	"github.com/spf13/pflag"

	"github.com/tufkeys/tufkeys/signer/keyfile"
	"github.com/tufkeys/tufkeys/signer/logappend"
	"github.com/tufkeys/tufkeys/translog"
)

// logPolicyFlags are the flags of repo init and repo rotate that name the
// transparency log and its witnesses in the root.
type logPolicyFlags struct {
	Key       string
	Origin    string
	Witnesses []string
	Quorum    int
	MaxAge    string
}

func addLogPolicyFlags(f *pflag.FlagSet, o *logPolicyFlags) {
	f.StringVar(&o.Key, "log-key", "", "public key (Ed25519) that signs the transparency log's checkpoints")
	f.StringVar(&o.Origin, "log-origin", "", "the log's name, the first line of its checkpoints, e.g. keys.example.test/log")
	f.StringArrayVar(&o.Witnesses, "witness", nil, "a witness as VERIFIER-KEY,URL (repeat for each)")
	f.IntVar(&o.Quorum, "witness-quorum", 0, "how many witnesses must cosign each checkpoint")
	f.StringVar(&o.MaxAge, "log-max-age", "", "how old the witnesses' newest cosignatures may be for clients to accept them (default 168h)")
}

// policy is the policy the flags give, or nil when they name no log.
func (o logPolicyFlags) policy() (*translog.Policy, error) {
	if o.Key == "" {
		if o.Origin != "" || len(o.Witnesses) > 0 || o.Quorum != 0 || o.MaxAge != "" {
			return nil, usagef("--log-origin, --witness, --witness-quorum and --log-max-age go with --log-key, the log's public key")
		}
		return nil, nil
	}
	if o.Origin == "" || len(o.Witnesses) == 0 || o.Quorum == 0 {
		return nil, usagef("a transparency log needs --log-key, --log-origin, at least one --witness and --witness-quorum")
	}
	pub, err := keyfile.ReadPublic(o.Key)
	if err != nil {
		return nil, err
	}
	vkey, err := logappend.VerifierKey(o.Origin, pub)
	if err != nil {
		return nil, usagef("--log-key %s: %v", o.Key, err)
	}
	p := &translog.Policy{Origin: o.Origin, Key: vkey, Quorum: o.Quorum, MaxAge: o.MaxAge}
	for _, w := range o.Witnesses {
		i := strings.LastIndex(w, ",")
		if i < 0 {
			return nil, usagef("--witness %q is not VERIFIER-KEY,URL", w)
		}
		p.Witnesses = append(p.Witnesses, translog.Witness{Key: strings.TrimSpace(w[:i]), URL: strings.TrimSpace(w[i+1:])})
	}
	if err := p.Check(); err != nil {
		return nil, usagef("%v", err)
	}
	return p, nil
}

// inherit fills what a rotation that names a log key leaves out from the
// policy the root names now: the witnesses and the quorum (given
// together, or neither), the origin and the max age.
func (o logPolicyFlags) inherit(current translog.Policy) logPolicyFlags {
	if o.Key == "" {
		return o
	}
	if o.Origin == "" {
		o.Origin = current.Origin
	}
	if len(o.Witnesses) == 0 && o.Quorum == 0 {
		for _, w := range current.Witnesses {
			o.Witnesses = append(o.Witnesses, w.Key+","+w.URL)
		}
		o.Quorum = current.Quorum
	}
	if o.MaxAge == "" {
		o.MaxAge = current.MaxAge
	}
	return o
}
