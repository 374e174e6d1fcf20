// Command setup prepares an S3-compatible test server for scripts/test.sh:
// it creates a bucket and makes it publicly readable through a bucket
// policy, as a deployment behind a CDN would.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	bucket := flag.String("bucket", "", "bucket to create")
	wait := flag.Duration("wait", 30*time.Second, "how long to wait for the server to answer")
	flag.Parse()
	if err := setup(*endpoint, *bucket, *wait); err != nil {
		fmt.Fprintf(os.Stderr, "s3 setup: %v\n", err)
		os.Exit(1)
	}
}

func setup(endpoint, bucket string, wait time.Duration) error {
	if endpoint == "" || bucket == "" {
		return errors.New("-endpoint and -bucket are required")
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait+30*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-east-1"))
	if err != nil {
		return err
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	deadline := time.Now().Add(wait)
	for {
		_, err = client.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server at %s did not answer within %s: %w", endpoint, wait, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		var owned *types.BucketAlreadyOwnedByYou
		if !errors.As(err, &owned) {
			return fmt.Errorf("create bucket %s: %w", bucket, err)
		}
	}
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}`, bucket)
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: &bucket, Policy: &policy}); err != nil {
		return fmt.Errorf("make bucket %s publicly readable: %w", bucket, err)
	}
	return nil
}
