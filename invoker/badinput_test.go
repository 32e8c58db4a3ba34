package invoker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// apiCode returns the error code of an SDK error ("" for nil).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "non-API error: " + err.Error()
	}
	return ""
}

func TestBadInputRefused(t *testing.T) {
	sink := newUDPSink(t)
	dir := dataDir(t)
	h := startInvoker(t, dir, sink)
	ctx := context.Background()
	c := h.client
	good := functionZip(t, "v1")
	create := func(mod func(*lambda.CreateFunctionInput)) error {
		in := &lambda.CreateFunctionInput{
			FunctionName: aws.String("bad"), Runtime: types.RuntimeProvidedal2023, Role: aws.String("arn:aws:iam::000000000000:role/r"),
			Handler: aws.String("bootstrap"), Code: &types.FunctionCode{ZipFile: good},
		}
		mod(in)
		_, err := c.CreateFunction(ctx, in)
		return err
	}
	createTests := []struct {
		name string
		mod  func(*lambda.CreateFunctionInput)
		code string
		msg  string
	}{
		{"bad zip", func(in *lambda.CreateFunctionInput) { in.Code.ZipFile = []byte("this is not a zip") },
			"InvalidParameterValueException", "Could not unzip uploaded file"},
		{"missing bootstrap", func(in *lambda.CreateFunctionInput) {
			in.Code.ZipFile = zipOf(t, map[string]string{"main.go": "package main"})
		}, "InvalidParameterValueException", "bootstrap"},
		{"unknown runtime", func(in *lambda.CreateFunctionInput) { in.Runtime = "cobol85" },
			"InvalidParameterValueException", "runtime"},
		{"reserved env var", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"AWS_REGION": "eu-west-1", "OK": "1"}}
		}, "InvalidParameterValueException", "Reserved keys used in this request: AWS_REGION"},
		{"env over 4 KB", func(in *lambda.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"BIG": strings.Repeat("x", 5000)}}
		}, "InvalidParameterValueException", "4KB"},
		{"timeout 0", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(0) }, "InvalidParameterValueException", "timeout"},
		{"memory 64", func(in *lambda.CreateFunctionInput) { in.MemorySize = aws.Int32(64) }, "InvalidParameterValueException", "memorySize"},
		{"bad name", func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("no spaces allowed") }, "InvalidParameterValueException", "functionName"},
		{"S3 bucket", func(in *lambda.CreateFunctionInput) {
			in.Code = &types.FunctionCode{S3Bucket: aws.String("my-bucket"), S3Key: aws.String("f.zip")}
		}, "InvalidParameterValueException", "S3"},
		{"image", func(in *lambda.CreateFunctionInput) {
			in.PackageType = types.PackageTypeImage
			in.Code = &types.FunctionCode{ImageUri: aws.String("repo/img:1")}
		}, "InvalidParameterValueException", "Image"},
	}
	for _, tc := range createTests {
		t.Run("create/"+tc.name, func(t *testing.T) {
			err := create(tc.mod)
			if apiCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %s mentioning %q", err, tc.code, tc.msg)
			}
			// Nothing half-created: no function, no stored package.
			list, lerr := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
			if lerr != nil || len(list.Functions) != 0 {
				t.Errorf("functions after a refused create: %v %v", list, lerr)
			}
			if entries, _ := os.ReadDir(filepath.Join(dir, "code")); len(entries) != 0 {
				t.Errorf("code packages left behind: %d", len(entries))
			}
		})
	}

	h.createFunction(t, "fn", "v1")
	if err := create(func(in *lambda.CreateFunctionInput) { in.FunctionName = aws.String("fn") }); apiCode(err) != "ResourceConflictException" {
		t.Errorf("duplicate create: %v", err)
	}
	t.Run("update refused leaves config", func(t *testing.T) {
		_, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"),
			Environment: &types.Environment{Variables: map[string]string{"_HANDLER": "x"}}})
		if apiCode(err) != "InvalidParameterValueException" {
			t.Fatalf("err = %v", err)
		}
		cfg, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
		if err != nil || cfg.Environment != nil {
			t.Errorf("configuration changed by a refused update: %+v %v", cfg.Environment, err)
		}
		if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("fn"), ZipFile: []byte("nope")}); apiCode(err) != "InvalidParameterValueException" {
			t.Errorf("bad zip update: %v", err)
		}
		if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String("fn"), ZipFile: good,
			RevisionId: aws.String("stale")}); apiCode(err) != "PreconditionFailedException" {
			t.Errorf("stale RevisionId: %v", err)
		}
	})

	invokeTests := []struct {
		name string
		in   *lambda.InvokeInput
		code string
	}{
		{"oversize sync payload", &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: jsonOfSize(6*1024*1024 + 1)}, "RequestTooLargeException"},
		{"oversize event payload", &lambda.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeEvent, Payload: jsonOfSize(256*1024 + 1)}, "RequestTooLargeException"},
		{"non-JSON payload", &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte("{not json")}, "InvalidRequestContentException"},
		{"unknown alias", &lambda.InvokeInput{FunctionName: aws.String("fn"), Qualifier: aws.String("nope")}, "ResourceNotFoundException"},
		{"unknown version", &lambda.InvokeInput{FunctionName: aws.String("fn"), Qualifier: aws.String("42")}, "ResourceNotFoundException"},
		{"malformed qualifier", &lambda.InvokeInput{FunctionName: aws.String("fn"), Qualifier: aws.String("bad!q")}, "InvalidParameterValueException"},
		{"conflicting qualifiers", &lambda.InvokeInput{FunctionName: aws.String("fn:1"), Qualifier: aws.String("2")}, "InvalidParameterValueException"},
		{"unknown function", &lambda.InvokeInput{FunctionName: aws.String("ghost")}, "ResourceNotFoundException"},
		{"bad client context", &lambda.InvokeInput{FunctionName: aws.String("fn"), ClientContext: aws.String("%%%")}, "InvalidParameterValueException"},
	}
	for _, tc := range invokeTests {
		t.Run("invoke/"+tc.name, func(t *testing.T) {
			_, err := c.Invoke(ctx, tc.in)
			if apiCode(err) != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
		})
	}
	// The 6 MB limit itself is accepted.
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn"), Payload: jsonOfSize(1 << 20)})
	if err != nil || out.FunctionError != nil {
		t.Errorf("1 MB payload: %v", err)
	}
}

// jsonOfSize returns a JSON string document of exactly n bytes.
func jsonOfSize(n int) []byte {
	b := bytes.Repeat([]byte("a"), n)
	b[0], b[n-1] = '"', '"'
	if !json.Valid(b) {
		panic("jsonOfSize")
	}
	return b
}
