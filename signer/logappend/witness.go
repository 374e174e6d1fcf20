package logappend

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tufkeys/tufkeys/translog"
)

// WitnessClient asks a witness to cosign a checkpoint (C2SP tlog-witness
// add-checkpoint).
type WitnessClient interface {
	// AddCheckpoint sends the checkpoint with a consistency proof from
	// oldSize. It returns the witness's cosignature lines, or a
	// *SizeError when the witness holds another size.
	AddCheckpoint(ctx context.Context, url string, oldSize int64, proof []tlog.Hash, checkpoint []byte) ([]byte, error)
}

// SizeError is a witness's answer that it last saw another size (409).
type SizeError struct{ Size int64 }

func (e *SizeError) Error() string { return fmt.Sprintf("it last saw size %d", e.Size) }

// HTTPWitness is the tlog-witness client over HTTP, with a timeout on
// every request.
type HTTPWitness struct{ Client *http.Client }

// maxCosignatures bounds a witness's answer.
const maxCosignatures = 16 << 10

// AddCheckpoint implements WitnessClient.
func (h HTTPWitness) AddCheckpoint(ctx context.Context, url string, oldSize int64, proof []tlog.Hash, checkpoint []byte) ([]byte, error) {
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", oldSize)
	for _, p := range proof {
		body.WriteString(base64.StdEncoding.EncodeToString(p[:]))
		body.WriteByte('\n')
	}
	body.WriteByte('\n')
	body.Write(checkpoint)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(url, "/")+"/add-checkpoint", &body)
	if err != nil {
		return nil, err
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no answer (%v)", unwrapURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCosignatures+1))
	if err != nil {
		return nil, fmt.Errorf("its answer broke off (%v)", err)
	}
	if len(data) > maxCosignatures {
		return nil, fmt.Errorf("its answer is above %d bytes", maxCosignatures)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return data, nil
	case http.StatusConflict:
		n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
		if err != nil || n < 0 {
			return nil, errors.New("it answered 409 without the size it holds")
		}
		return nil, &SizeError{Size: n}
	case http.StatusNotFound:
		return nil, errors.New("it does not witness this log (404): add the log's key to its configuration")
	case http.StatusForbidden:
		return nil, errors.New("it does not accept the log's signature (403)")
	case http.StatusUnprocessableEntity:
		return nil, errors.New("it holds a checkpoint this one does not extend (422): a fork, or a log rebuilt from scratch")
	default:
		return nil, fmt.Errorf("it answered HTTP %d", resp.StatusCode)
	}
}

func unwrapURL(err error) error {
	var u interface{ Unwrap() error }
	if errors.As(err, &u) {
		if inner := u.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// cosign asks every witness of the policy in parallel and returns the
// checkpoint with the cosignatures, or ErrNoQuorum naming who refused.
func cosign(ctx context.Context, opts Options, oldSize, newSize int64, hr tlog.HashReader, signed []byte) (translog.Checkpoint, error) {
	client := opts.Witness
	if client == nil {
		client = HTTPWitness{}
	}
	type answer struct {
		name  string
		lines []byte
		err   error
	}
	answers := make([]answer, len(opts.Policy.Witnesses))
	var wg sync.WaitGroup
	var mu sync.Mutex // tlog's readers are not safe for concurrent use
	prove := func(from int64) ([]tlog.Hash, error) {
		if from == 0 || from == newSize {
			return nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		return tlog.ProveTree(newSize, from, hr)
	}
	for i, w := range opts.Policy.Witnesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := answer{name: w.Name()}
			from := oldSize
			for try := 0; try < 3; try++ {
				proof, err := prove(from)
				if err != nil {
					a.err = err
					break
				}
				a.lines, a.err = client.AddCheckpoint(ctx, w.URL, from, proof, signed)
				var se *SizeError
				if !errors.As(a.err, &se) {
					break
				}
				if se.Size > newSize {
					a.err = fmt.Errorf("it holds size %d, beyond this checkpoint's %d: a fork or a rollback", se.Size, newSize)
					break
				}
				from = se.Size
			}
			answers[i] = a
		}()
	}
	wg.Wait()
	full := slices.Clone(signed)
	var refused []string
	for _, a := range answers {
		if a.err != nil {
			refused = append(refused, fmt.Sprintf("%s: %v", a.name, a.err))
			continue
		}
		full = append(full, a.lines...)
	}
	cp, err := translog.VerifyCheckpoint(opts.Policy, full, opts.Now())
	if err != nil {
		if len(refused) == 0 {
			refused = append(refused, err.Error())
		}
		return cp, fmt.Errorf("%d of %d witnesses cosigned, %d needed; nothing was published (%s): %w",
			len(cp.Witnessed), len(opts.Policy.Witnesses), opts.Policy.Quorum, strings.Join(refused, "; "), ErrNoQuorum)
	}
	return cp, nil
}
