// Package keyref opens a private key wherever it lives, by the reference a
// maintainer or a job gives: a key file; a key on a hardware token
// (pkcs11:token=…;object=…?module-path=…, RFC 7512); or a key in AWS KMS
// (awskms:///KEYID, awskms:///alias/NAME, awskms://ENDPOINT/KEYID), in the
// forms cosign accepts, so an existing key works unchanged. Whatever holds
// the key, the signatures are the same TUF signatures.
//
// Stability: this package is the maintainers' side of the tufkeys command,
// not an API offered for embedding; its exported names may change in any
// release. Programs embed bundle, client (with client/mirror,
// client/archive, client/corepack) and store (with store/s3), whose
// surface api/tufkeys.txt records.
package keyref

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/tufkeys/tufkeys/internal/redact"
	"github.com/tufkeys/tufkeys/signer/keyfile"
)

var (
	// ErrKeyUnavailable marks a key its holder does not give: not found,
	// disabled, or not allowed to these credentials.
	ErrKeyUnavailable = errors.New("key unavailable")
	// ErrWrongKeyType marks a key that is not an ECDSA P-256 signing key.
	ErrWrongKeyType = errors.New("wrong key type")
	// ErrUnreachable marks a key holder that does not answer.
	ErrUnreachable = errors.New("key holder unreachable")
	// ErrUnsupported marks a reference this build cannot open.
	ErrUnsupported = errors.New("unsupported key reference")
)

// requestTimeout bounds each call to a KMS: signing is one small request.
const requestTimeout = 20 * time.Second

// Open returns the signer a reference names. A file's passphrase comes
// from pass; a KMS key uses the AWS SDK's standard configuration.
//
// Schemes are matched without regard to case, as URI schemes are; no
// message prints a reference's query values or userinfo (a PIN, a PIN
// file, credentials).
func Open(ctx context.Context, ref string, pass keyfile.Passphrase) (*keyfile.Signer, error) {
	scheme, rest, hasScheme := splitScheme(ref)
	switch {
	case hasScheme && scheme == "awskms" && strings.HasPrefix(rest, "//"):
		return openKMS(ctx, "awskms:"+rest)
	case hasScheme && scheme == "pkcs11":
		return openPKCS11("pkcs11:" + rest)
	case hasScheme:
		return nil, fmt.Errorf("a key reference with scheme %q is neither a key file, a pkcs11: URI nor an awskms:// reference: %w", scheme+":", ErrUnsupported)
	case strings.ContainsAny(ref, "?;") && strings.Contains(ref, "="):
		// a URI whose scheme was mistyped: its values may be secrets
		return nil, fmt.Errorf("the key reference is not a key file and has no scheme tufkeys knows: start it with pkcs11: or awskms:// (it is not shown, since it may hold a PIN): %w", ErrUnsupported)
	}
	return keyfile.Open(ref, pass)
}

// Kind names the kind of key a reference opens, in the words of
// workspace.KeyInfo: "KMS" (awskms://), "token" (pkcs11:) or "file". It
// says nothing of whether the reference opens.
func Kind(ref string) string {
	scheme, rest, ok := splitScheme(ref)
	switch {
	case ok && scheme == "awskms" && strings.HasPrefix(rest, "//"):
		return "KMS"
	case ok && scheme == "pkcs11":
		return "token"
	}
	return "file"
}

// splitScheme splits a reference that starts with a URI scheme (RFC 3986:
// a letter, then letters, digits, +, - or .), lower-cased. A single letter
// is a Windows drive, not a scheme.
func splitScheme(ref string) (scheme, rest string, ok bool) {
	i := strings.IndexByte(ref, ':')
	if i < 2 {
		return "", "", false
	}
	for j, r := range ref[:i] {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (j == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return "", "", false
		}
	}
	return strings.ToLower(ref[:i]), ref[i+1:], true
}

// Public returns the public key a reference names, without a passphrase
// where the reference allows it (KMS).
func Public(ctx context.Context, ref string, pass keyfile.Passphrase) (crypto.PublicKey, error) {
	s, err := Open(ctx, ref, pass)
	if err != nil {
		return nil, err
	}
	return s.Public, nil
}

// parseKMS splits awskms://[ENDPOINT]/KEY into the endpoint (empty: the
// SDK's) and the key ID, ARN or alias/NAME.
func parseKMS(ref string) (endpoint, key string, err error) {
	rest := strings.TrimPrefix(ref, "awskms://")
	endpoint, key, ok := strings.Cut(rest, "/")
	if !ok || key == "" {
		return "", "", fmt.Errorf("%q names no key: use awskms:///KEYID, awskms:///alias/NAME or awskms://ENDPOINT/KEYID: %w", redact.URL(ref), ErrUnsupported)
	}
	return endpoint, key, nil
}

type kmsSigner struct {
	client *kms.Client
	key    string
	ref    string
	pub    *ecdsa.PublicKey
}

func openKMS(ctx context.Context, raw string) (*keyfile.Signer, error) {
	endpoint, key, err := parseKMS(raw)
	// messages name the reference without userinfo or query
	ref := redact.URL(raw)
	if err != nil {
		return nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(requestTimeout)),
		config.WithRetryMaxAttempts(2),
		// the SDK's own log lines would reach the terminal unframed
		config.WithLogger(logging.Nop{}),
		config.WithClientLogMode(0))
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration for %s: %w", ref, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if endpoint != "" {
			scheme := "https://"
			if h, _, err := net.SplitHostPort(endpoint); err == nil && (h == "127.0.0.1" || h == "localhost" || h == "::1") {
				// a KMS-compatible service on this machine, for tests and
				// local trials, speaks plain HTTP
				scheme = "http://"
			}
			o.BaseEndpoint = aws.String(scheme + endpoint)
		}
	})
	s := &kmsSigner{client: client, key: key, ref: ref}
	cctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := client.GetPublicKey(cctx, &kms.GetPublicKeyInput{KeyId: aws.String(key)})
	if err != nil {
		return nil, s.explain(err)
	}
	if out.KeySpec != types.KeySpecEccNistP256 || out.KeyUsage != types.KeyUsageTypeSignVerify {
		return nil, fmt.Errorf("%s is a %s key for %s, not an ECC_NIST_P256 signing key: create one with key spec ECC_NIST_P256 and usage SIGN_VERIFY: %w", ref, out.KeySpec, out.KeyUsage, ErrWrongKeyType)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	ec, ok := pub.(*ecdsa.PublicKey)
	if err != nil || !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s returned a public key that is not ECDSA P-256: %w", ref, ErrWrongKeyType)
	}
	s.pub = ec
	return keyfile.NewSigner(s, kmsName(key))
}

// kmsName names the key in messages: its alias or ID, no account or ARN.
func kmsName(key string) string {
	if i := strings.LastIndex(key, "/"); i >= 0 {
		return key[i+1:]
	}
	return key
}

func (s *kmsSigner) Public() crypto.PublicKey { return s.pub }

// Sign asks KMS to sign a SHA-256 digest; KMS returns ECDSA signatures in
// DER, as TUF takes them.
func (s *kmsSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	out, err := s.client.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.key),
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, s.explain(err)
	}
	return out.Signature, nil
}

// explain turns KMS errors into one sentence saying what to do.
func (s *kmsSigner) explain(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NotFoundException":
			return fmt.Errorf("KMS has no key %s: check the key ID or alias in %s: %w", s.key, s.ref, ErrKeyUnavailable)
		case "DisabledException", "KMSInvalidStateException":
			return fmt.Errorf("KMS key %s is disabled or pending deletion: enable it, or use another key: %w", s.key, ErrKeyUnavailable)
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException":
			return fmt.Errorf("KMS refused these credentials for key %s (%s): they need kms:Sign and kms:GetPublicKey on it: %w", s.key, apiErr.ErrorCode(), ErrKeyUnavailable)
		case "InvalidKeyUsageException", "UnsupportedOperationException":
			return fmt.Errorf("KMS key %s is not an asymmetric signing key: create one with key spec ECC_NIST_P256 and usage SIGN_VERIFY: %w", s.key, ErrWrongKeyType)
		}
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cannot reach KMS for %s: check the endpoint and the network: %w", s.ref, ErrUnreachable)
	}
	return fmt.Errorf("KMS, key %s: %w", s.key, err)
}
