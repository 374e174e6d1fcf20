// Command tufkeys-conformance speaks the client command line of the public
// TUF conformance suite (theupdateframework/tuf-conformance, CLIENT-CLI.md)
// on top of tufkeys' client package, so that the suite checks the very
// client code that package managers call:
//
//	tufkeys-conformance --metadata-dir D init ROOT
//	tufkeys-conformance --metadata-dir D --metadata-url U refresh
//	tufkeys-conformance --metadata-dir D --metadata-url U --target-name P \
//	    --target-base-url T --target-dir D2 download
//
// It exits 0 on success and 1 on any failure. Requests go out one at a
// time in the specification's order unless TUFKEYS_CONFORMANCE_SPECULATE=1.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// run parses the suite's command line and runs the command; it returns
// the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("tufkeys-conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts options
	fs.StringVar(&opts.MetadataDir, "metadata-dir", "", "directory of the trusted metadata")
	fs.StringVar(&opts.MetadataURL, "metadata-url", "", "URL of the repository's metadata")
	fs.StringVar(&opts.TargetBaseURL, "target-base-url", "", "URL of the repository's targets")
	fs.StringVar(&opts.TargetDir, "target-dir", "", "directory for downloaded targets")
	fs.Var((*stringList)(&opts.TargetNames), "target-name", "target path to download (repeatable)")
	fs.BoolVar(&opts.Verbose, "verbose", false, "log each step")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	clock, err := fakeClock(getenv("FAKETIME"), time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "tufkeys-conformance:", err)
		return 1
	}
	opts.Clock = clock
	opts.Speculate = getenv("TUFKEYS_CONFORMANCE_SPECULATE") == "1"
	opts.Log = stderr
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprintln(stderr, "tufkeys-conformance: name a command: init ROOT, refresh or download")
		return 1
	}
	if opts.MetadataDir == "" {
		fmt.Fprintln(stderr, "tufkeys-conformance: --metadata-dir is required")
		return 1
	}
	switch rest[0] {
	case "init":
		if len(rest) != 2 {
			err = fmt.Errorf("init takes the trusted root file")
		} else {
			err = initialize(opts, rest[1])
		}
	case "refresh":
		err = refresh(ctx, opts)
	case "download":
		err = download(ctx, opts)
	default:
		err = fmt.Errorf("unknown command %q: use init, refresh or download", rest[0])
	}
	if err != nil {
		fmt.Fprintln(stderr, "tufkeys-conformance:", err)
		return 1
	}
	fmt.Fprintln(stdout, "tufkeys-conformance:", rest[0], "done")
	return 0
}
