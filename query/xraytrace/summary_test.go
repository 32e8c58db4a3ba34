package xraytrace

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestSummary(t *testing.T) {
	const (
		// Synthetic topology: front (root) → back (instrumented, via the
		// remote subsegment 00000000000000r1's id) plus calls to AWS, SQL
		// and an uninstrumented host.
		front = `{"id":"f000000000000001","name":"front","origin":"AWS::EC2::Instance","trace_id":"` + tid + `","start_time":1000,"end_time":1002,
			"user":"bob","resource_arn":"arn:aws:ec2:eu-west-1:111122223333:instance/i-1",
			"aws":{"account_id":"111122223333","ec2":{"instance_id":"i-1","availability_zone":"eu-west-1a"}},
			"http":{"request":{"method":"GET","url":"https://front.example/x","user_agent":"curl/8","client_ip":"10.0.0.9"},"response":{"status":503}},
			"annotations":{"k":"v","n":1,"flag":false},
			"subsegments":[
				{"id":"0000000000000001","name":"back.example","namespace":"remote","start_time":1000.1,"end_time":1001,"http":{"request":{"url":"http://back.example/","traced":true},"response":{"status":429}},"throttle":true,"error":true},
				{"id":"0000000000000002","name":"SQS","namespace":"aws","start_time":1000.2,"end_time":1000.3,"aws":{"operation":"SendMessage","queue_url":"https://sqs.eu-west-1.amazonaws.com/111122223333/jobs"}},
				{"id":"0000000000000003","name":"S3","namespace":"aws","start_time":1000.3,"end_time":1000.4,"aws":{"operation":"PutObject","bucket_name":"blobs"}},
				{"id":"0000000000000004","name":"Lambda","namespace":"aws","start_time":1000.4,"end_time":1000.5,"aws":{"operation":"Invoke","function_name":"arn:aws:lambda:eu-west-1:111122223333:function:resize:live"}},
				{"id":"0000000000000005","name":"db@pg.internal","namespace":"remote","start_time":1000.5,"end_time":1000.6,"sql":{"url":"postgresql://pg.internal/app","database_type":"PostgreSQL"}},
				{"id":"0000000000000006","name":"SNS","namespace":"aws","start_time":1000.6,"end_time":1000.7,"aws":{"operation":"Publish"}},
				{"id":"0000000000000007","name":"local work","start_time":1000.7,"end_time":1000.8,"annotations":{"k":"v","n":"1"}}
			]}`
		back = `{"id":"b000000000000001","name":"back","trace_id":"` + tid + `","parent_id":"0000000000000001","start_time":1000.15,"end_time":1000.9,
			"throttle":true,"http":{"response":{"status":429}},"user":"bob","annotations":{"k":"v"},
			"aws":{"ecs":{"availability_zone":"eu-west-1b"}}}`
		backSub = `{"type":"subsegment","id":"b000000000000002","name":"work","trace_id":"` + tid + `","parent_id":"b000000000000001","start_time":1000.2,"in_progress":true,"user":"carol"}`
	)
	svcFront := `{"Name":"front","Names":["front"],"AccountId":"111122223333","Type":"AWS::EC2::Instance"}`
	svcBack := `{"Name":"back","Names":["back"]}`
	fn := `{"Name":"xray-stuff-ProducerA-LbbjYUkcchrB","Names":["xray-stuff-ProducerA-LbbjYUkcchrB"],"AccountId":"123456789012","Type":"AWS::Lambda::Function"}`
	lambda := `{"Name":"xray-stuff-ProducerA-LbbjYUkcchrB","Names":["xray-stuff-ProducerA-LbbjYUkcchrB"],"Type":"AWS::Lambda"}`
	cases := []struct {
		name  string
		docs  []Doc
		trace string
		want  string
	}{
		{
			name:  "real Go SDK capture",
			docs:  []Doc{readDoc(t, "ddbSample.txt")},
			trace: "1-5f29ab21-d4ebf299219a65bd5c31d6da",
			want: `{"Id":"1-5f29ab21-d4ebf299219a65bd5c31d6da","StartTime":1596566305.535414,"Duration":0.057441,"ResponseTime":0.057441,
				"HasFault":true,"HasError":false,"HasThrottle":false,"IsPartial":false,
				"Annotations":{"DDB.DescribeExistingTableAndPutToMissingTable.Annotation":[{"AnnotationValue":{"StringValue":"anno"},"ServiceIds":[{"Name":"DDB","Names":["DDB"]}]}]},
				"Users":[{"UserName":"xraysegmentdump","ServiceIds":[{"Name":"DDB","Names":["DDB"]}]}],
				"ServiceIds":[{"Name":"DDB","Names":["DDB"]},
					{"Name":"xray_sample_table","Names":["xray_sample_table"],"Type":"AWS::DynamoDB::Table"},
					{"Name":"does_not_exist","Names":["does_not_exist"],"Type":"AWS::DynamoDB::Table"}],
				"EntryPoint":{"Name":"DDB","Names":["DDB"]},"Revision":2}`,
		},
		{
			name: "Lambda facade: SDK subsegments count for the function",
			docs: []Doc{readDoc(t, "lambda-sdk-remote.json"), readDoc(t, "lambda-sdk-dynamodb.json"), readDoc(t, "lambda-function.json"),
				readDoc(t, "lambda-sdk-handler.json"), readDoc(t, "lambda-service.json")},
			trace: tid,
			want: `{"Id":"` + tid + `","StartTime":1699480919.389,"Duration":0.781,"ResponseTime":0.781,
				"HasFault":false,"HasError":false,"HasThrottle":false,"IsPartial":false,
				"Http":{"HttpStatus":200},
				"Annotations":{
					"order_id":[{"AnnotationValue":{"StringValue":"o-17"},"ServiceIds":[` + fn + `]}],
					"cold_start":[{"AnnotationValue":{"BooleanValue":true},"ServiceIds":[` + fn + `]}],
					"items":[{"AnnotationValue":{"NumberValue":3},"ServiceIds":[` + fn + `]}]},
				"Users":[{"UserName":"alice","ServiceIds":[` + fn + `]}],
				"ServiceIds":[` + lambda + `,` + fn + `,
					{"Name":"orders","Names":["orders"],"Type":"AWS::DynamoDB::Table"},
					{"Name":"api.example.com","Names":["api.example.com"],"Type":"remote"}],
				"ResourceARNs":[{"ARN":"arn:aws:lambda:us-west-2:123456789012:function:xray-stuff-ProducerA-LbbjYUkcchrB"}],
				"EntryPoint":` + lambda + `,"Revision":10}`,
		},
		{
			name:  "Lambda facade without the function segment",
			docs:  []Doc{readDoc(t, "lambda-sdk-remote.json"), readDoc(t, "lambda-sdk-handler.json")},
			trace: tid,
			want: `{"Id":"` + tid + `","StartTime":1699480919.95,"Duration":0.2,
				"HasFault":false,"HasError":false,"HasThrottle":false,"IsPartial":false,
				"Annotations":{
					"order_id":[{"AnnotationValue":{"StringValue":"o-17"}}],
					"cold_start":[{"AnnotationValue":{"BooleanValue":true}}],
					"items":[{"AnnotationValue":{"NumberValue":3}}]},
				"Users":[{"UserName":"alice"}],
				"ServiceIds":[{"Name":"api.example.com","Names":["api.example.com"],"Type":"remote"}],
				"Revision":4}`,
		},
		{
			name:  "flags, inferred services, merged annotations, partial",
			docs:  []Doc{mkDoc(t, backSub), mkDoc(t, back), mkDoc(t, front)},
			trace: tid,
			want: `{"Id":"` + tid + `","StartTime":1000,"Duration":2,"ResponseTime":2,
				"HasFault":true,"HasError":false,"HasThrottle":true,"IsPartial":true,
				"Http":{"HttpURL":"https://front.example/x","HttpStatus":503,"HttpMethod":"GET","UserAgent":"curl/8","ClientIp":"10.0.0.9"},
				"Annotations":{
					"k":[{"AnnotationValue":{"StringValue":"v"},"ServiceIds":[` + svcBack + `,` + svcFront + `]}],
					"n":[{"AnnotationValue":{"NumberValue":1},"ServiceIds":[` + svcFront + `]},{"AnnotationValue":{"StringValue":"1"},"ServiceIds":[` + svcFront + `]}],
					"flag":[{"AnnotationValue":{"BooleanValue":false},"ServiceIds":[` + svcFront + `]}]},
				"Users":[{"UserName":"bob","ServiceIds":[` + svcBack + `,` + svcFront + `]},{"UserName":"carol","ServiceIds":[` + svcBack + `]}],
				"ServiceIds":[` + svcFront + `,
					{"Name":"jobs","Names":["jobs"],"Type":"AWS::SQS::Queue"},
					{"Name":"blobs","Names":["blobs"],"Type":"AWS::S3::Bucket"},
					{"Name":"resize","Names":["resize"],"Type":"AWS::Lambda"},
					{"Name":"db@pg.internal","Names":["db@pg.internal"],"Type":"Database::SQL"},
					{"Name":"SNS","Names":["SNS"],"Type":"AWS::SNS"},
					` + svcBack + `],
				"ResourceARNs":[{"ARN":"arn:aws:ec2:eu-west-1:111122223333:instance/i-1"}],
				"InstanceIds":[{"Id":"i-1"}],
				"AvailabilityZones":[{"Name":"eu-west-1a"},{"Name":"eu-west-1b"}],
				"EntryPoint":` + svcFront + `,"Revision":5}`,
		},
		{
			name: "explicit flags win over the status; 4xx is an error",
			docs: []Doc{
				mkDoc(t, `{"id":"f000000000000001","name":"a","trace_id":"`+tid+`","start_time":10,"end_time":11,"fault":false,"http":{"response":{"status":500}}}`),
				mkDoc(t, `{"id":"f000000000000002","name":"z","trace_id":"`+tid+`","start_time":12,"end_time":13,"http":{"response":{"status":404}}}`),
			},
			trace: tid,
			want: `{"Id":"` + tid + `","StartTime":10,"Duration":3,"ResponseTime":1,"HasFault":false,"HasError":false,"HasThrottle":false,"IsPartial":false,
				"Http":{"HttpStatus":500},"ServiceIds":[{"Name":"a","Names":["a"]},{"Name":"z","Names":["z"]}],"EntryPoint":{"Name":"a","Names":["a"]},"Revision":4}`,
		},
		{
			name: "client error at the root; root in progress",
			docs: []Doc{
				mkDoc(t, `{"id":"f000000000000001","name":"a","trace_id":"`+tid+`","start_time":10,"in_progress":true,"http":{"response":{"status":404}}}`),
			},
			trace: tid,
			want: `{"Id":"` + tid + `","StartTime":10,"HasFault":false,"HasError":true,"HasThrottle":false,"IsPartial":true,
				"Http":{"HttpStatus":404},"ServiceIds":[{"Name":"a","Names":["a"]}],"EntryPoint":{"Name":"a","Names":["a"]},"Revision":1}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := Assemble(tc.trace, tc.docs).Summary()
			got, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(canon(t, string(got)), canon(t, tc.want)) {
				t.Errorf("summary\n got %s\nwant %s", got, compact(t, tc.want))
			}
		})
	}
}
