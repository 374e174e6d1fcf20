// Package s3 is the S3 backend of package store: a repository in a bucket
// of AWS S3 or of any S3-compatible server, with conditional writes. It is
// the one package that links the AWS SDK for storage, so that store and
// the client stay free of it.
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/tufkeys/tufkeys/store"
)

// requestTimeout bounds each S3 call; repository files are small.
const requestTimeout = 30 * time.Second

var (
	// ErrAccessDenied marks credentials the store refuses.
	ErrAccessDenied = errors.New("access denied")
	// ErrNoBucket marks a bucket that does not exist.
	ErrNoBucket = errors.New("no such bucket")
	// ErrUnreachable marks an endpoint that does not answer.
	ErrUnreachable = errors.New("store unreachable")
	// ErrNoCredentials marks a configuration that yields no credentials.
	ErrNoCredentials = errors.New("no credentials")
)

// S3 is a store in an S3 bucket (AWS or any S3-compatible server).
type S3 struct {
	client *awss3.Client
	bucket string
	prefix string
	label  string
	cache  store.CachePolicy
}

// Options configure an S3 store.
type Options struct {
	// EndpointURL points at an S3-compatible store instead of AWS.
	EndpointURL string
	// PathStyle addresses buckets as ENDPOINT/BUCKET rather than as a
	// host name, as most S3-compatible stores need.
	PathStyle bool
	// Region overrides the region from the AWS configuration.
	Region string
	// Cache decides the Cache-Control of what is written. Nil:
	// store.DefaultCachePolicy.
	Cache *store.CachePolicy
}

// Open opens BUCKET/PREFIX with the standard AWS configuration chain:
// environment credentials, shared profiles, roles.
func Open(ctx context.Context, bucketPrefix string, opts Options) (*S3, error) {
	bucket, prefix, _ := strings.Cut(bucketPrefix, "/")
	prefix = strings.Trim(prefix, "/")
	if bucket == "" {
		return nil, errors.New("s3:// needs a bucket: use s3://BUCKET or s3://BUCKET/PREFIX")
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(requestTimeout)),
		config.WithRetryMaxAttempts(3),
		// the SDK's own log lines would reach the user's terminal unframed;
		// tufkeys reports what went wrong in its errors
		config.WithLogger(logging.Nop{}),
		config.WithClientLogMode(0),
	}
	if opts.Region != "" {
		loaders = append(loaders, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		// S3-compatible stores ignore the region, but the signer needs one
		cfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
		o.UsePathStyle = opts.PathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	label := "s3://" + bucket
	if prefix != "" {
		label += "/" + prefix
	}
	s := &S3{client: client, bucket: bucket, prefix: prefix, label: label, cache: store.DefaultCachePolicy}
	if opts.Cache != nil {
		s.cache = *opts.Cache
	}
	// one request up front, so that a missing bucket, missing or wrong
	// credentials and an endpoint that does not answer each get their own
	// sentence, not whatever the first object request makes of them (a
	// HEAD on an object of a missing bucket is a bare 404)
	hctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	if _, err := client.HeadBucket(hctx, &awss3.HeadBucketInput{Bucket: &bucket}); err != nil {
		err = s.explain("", err)
		if errors.Is(err, store.ErrNotFound) {
			err = fmt.Errorf("bucket %s does not exist: create it, or correct the destination: %w", bucket, ErrNoBucket)
		}
		return nil, err
	}
	return s, nil
}

func (s *S3) String() string { return s.label }

func (s *S3) key(name string) string {
	if s.prefix == "" {
		return name
	}
	return s.prefix + "/" + name
}

func (s *S3) Get(ctx context.Context, name string, max int64) ([]byte, store.Tag, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		return nil, store.Absent, s.explain(name, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, max+1))
	if err != nil {
		return nil, store.Absent, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > max {
		return nil, store.Absent, fmt.Errorf("%s is larger than %d bytes", name, max)
	}
	return data, etag(out.ETag), nil
}

// Put makes conditional writes with S3's own preconditions: If-None-Match:
// * for store.Absent and If-Match for a tag, which the store checks atomically
// with the write and answers with 412 when another writer got there first.
func (s *S3) Put(ctx context.Context, name string, data []byte, ifMatch store.Tag) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	in := &awss3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           aws.String(s.key(name)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(store.ContentType(name)),
		CacheControl:  aws.String(s.cache.CacheControl(name)),
	}
	switch ifMatch {
	case store.Always:
	case store.Absent:
		in.IfNoneMatch = aws.String("*")
	default:
		in.IfMatch = aws.String(string(ifMatch))
	}
	_, err := s.client.PutObject(ctx, in)
	return s.explain(name, err)
}

// etag is an object's tag: its ETag as the store sent it, quotes and all,
// which is what If-Match compares against.
func etag(v *string) store.Tag {
	if v == nil || *v == "" {
		// a store that sends no ETag cannot take If-Match; a tag that
		// matches nothing makes a conditional write fail closed
		return "no-etag"
	}
	return store.Tag(*v)
}

// Compare asks for the object's size and ETag first; for objects uploaded
// in one part the ETag is the MD5 of the content. When it does not settle
// the question (multipart or encrypted objects), it reads the object.
func (s *S3) Compare(ctx context.Context, name string, data []byte) (store.State, store.Tag, error) {
	hctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	head, err := s.client.HeadObject(hctx, &awss3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if err != nil {
		err = s.explain(name, err)
		if errors.Is(err, store.ErrNotFound) {
			return store.Missing, store.Absent, nil
		}
		return store.Missing, store.Absent, err
	}
	tag := etag(head.ETag)
	if head.ContentLength != nil && *head.ContentLength != int64(len(data)) {
		return store.Different, tag, nil
	}
	sum := md5.Sum(data)
	if strings.Trim(string(tag), `"`) == hex.EncodeToString(sum[:]) {
		return store.Same, tag, nil
	}
	have, tag, err := s.Get(ctx, name, int64(len(data))+1)
	if errors.Is(err, store.ErrNotFound) {
		return store.Missing, store.Absent, nil
	}
	if err != nil {
		return store.Missing, store.Absent, err
	}
	if bytes.Equal(have, data) {
		return store.Same, tag, nil
	}
	return store.Different, tag, nil
}

// explain turns SDK errors into one sentence saying what to do.
func (s *S3) explain(name string, err error) error {
	if err == nil {
		return nil
	}
	var apiErr smithy.APIError
	var signErr *v4.SigningError
	// the SDK wraps a failed credentials chain in no type of its own
	// (smithy's identity resolution): its messages are what tells it
	msg := err.Error()
	if errors.As(err, &signErr) || strings.Contains(msg, "get credentials:") || strings.Contains(msg, "failed to retrieve credentials") {
		return fmt.Errorf("no AWS credentials for %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run where a role provides them: %w", s.label, ErrNoCredentials)
	}
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%s: %w", name, store.ErrNotFound)
		case "PreconditionFailed", "ConditionalRequestConflict":
			return fmt.Errorf("%s: %s was changed by another writer: %w", s.label, name, store.ErrChanged)
		case "NoSuchBucket":
			return fmt.Errorf("bucket %s does not exist: create it, or correct the destination: %w", s.bucket, ErrNoBucket)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "InvalidToken", "ExpiredToken":
			return fmt.Errorf("%s refused the credentials (%s): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the profile, and that they may read, write and list the bucket: %w", s.label, apiErr.ErrorCode(), ErrAccessDenied)
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%s: %w", name, store.ErrNotFound)
		case http.StatusPreconditionFailed:
			return fmt.Errorf("%s: %s was changed by another writer: %w", s.label, name, store.ErrChanged)
		case http.StatusForbidden:
			return fmt.Errorf("%s refused the credentials (403 Forbidden): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the profile, and that they may read, write and list the bucket: %w", s.label, ErrAccessDenied)
		}
	}
	var netErr net.Error
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cannot reach the S3 endpoint for %s: check the endpoint URL and the network: %w", s.label, ErrUnreachable)
	}
	return fmt.Errorf("%s: %s: %w", s.label, path.Base(name), err)
}
