package filter

// diffExprs are run through both back-ends over the generated corpus; they
// cover every keyword, operator and form of xray.md §5 that the spans
// table can express.
var diffExprs = []string{
	// boolean keywords, bare, negated, = and !=
	`ok`, `error`, `throttle`, `fault`, `partial`, `inferred`,
	`!ok`, `!fault`, `NOT error`, `not partial`,
	`ok = true`, `ok = false`, `fault != true`, `error != false`, `throttle = false`, `inferred = true`, `partial != true`,
	`OK`, `Fault = TRUE`,
	// number keywords, every operator
	`responsetime > 1`, `responsetime >= 0.5005`, `responsetime < 0.2005`, `responsetime <= 3.0005`,
	`responsetime = 0.005`, `responsetime != 0.005`, `responseTime > 2.5`,
	`duration > 1`, `duration >= 5.0005 AND duration <= 8.0005`, `duration < 3`, `duration != 0`, `duration = 0.005`,
	`http.status = 200`, `http.status != 200`, `http.status >= 400`, `http.status < 300`, `http.status <= 429`, `http.status > 499.5`,
	`http.status = 404 OR http.status = 503`,
	// string keywords, every operator, bare
	`http.url CONTAINS "/api/game/"`, `http.url BEGINSWITH "http://api.example.com/"`, `http.url ENDSWITH "/health"`,
	`http.url = "http://api.example.com/v2/items"`, `http.url != "http://api.example.com/v2/items"`,
	`http.url`, `!http.url`, `http.url CONTAINS ""`, `http.url AND responsetime > 2`,
	`http.method = "POST"`, `http.method != "GET"`, `http.method = POST`, `http.method contains "U"`,
	`http.useragent BEGINSWITH "Mozilla"`, `http.useragent`, `http.useragent endswith "1.48"`,
	`http.clientip = "1.2.3.4"`, `http.clientip BEGINSWITH "10."`,
	`user = "alice"`, `user = "Alice"`, `user != "alice"`, `user CONTAINS ""`, `user`, `!user`, `user BEGINSWITH "c"`, `user ENDSWITH "ob"`,
	`user = "alice" AND http.method = "POST"`,
	`resource.arn`, `resource.arn = "chicken"`, `resource.arn CONTAINS ":function:"`, `resource.arn ENDSWITH "prod"`,
	`availabilityzone = "us-west-2c"`, `!instance.id`, `instance.id CONTAINS ""`,
	// annotations: three types, bare, negated, brackets
	`annotation.gameid = "817DL6VO"`, `annotation.gameid != "817DL6VO"`, `annotation.gameid`, `!annotation.gameid`,
	`annotation.country CONTAINS "States"`, `annotation.country BEGINSWITH "United"`, `annotation.Tier ENDSWITH "old"`,
	`annotation.Tier = ""`, `annotation.Tier CONTAINS ""`, `annotation.tier`,
	`annotation.age > 29`, `annotation.age <= 10.5`, `annotation.age = 12`, `annotation.age != 12`, `annotation.age < 0`, `annotation.age >= -2.5`,
	`annotation.account = 12345`, `annotation.score`,
	`annotation.internal = true`, `annotation.internal = false`, `annotation.internal != true`, `annotation.cached`,
	`annotation["aws:api_id"] = "abc123"`, `annotation["a.b"]`, `annotation.a.b = "Gold"`, `annotation[gameid] = "x\"y\\z"`,
	`annotation.gameid = 5`,
	// string annotation equalities (the annotation index's AnnotationLookup)
	`annotation.country = "United States"`, `annotation.Tier = "Gold"`, `annotation["a.b"] = "Gold"`,
	`annotation.gameid = "817DL6VO" AND fault`, `annotation.gameid = "817DL6VO" AND NOT annotation.Tier = "Gold"`,
	`annotation.gameid = "abc123" OR annotation.country = "abc123"`, `annotation.Tier = "Gold" OR annotation.Tier = ""`,
	`annotation.country = "United States" AND responsetime > 1`, `(annotation.Tier = "Gold" OR annotation.gameid = "Gold") AND !ok`,
	`annotation.Tier = "gold"`, `annotation.country = "United States" AND service("api")`,
	// service()
	`service("api")`, `!service("api")`, `service("api") { fault }`, `service("api") { !ok }`, `service() { fault }`, `service()`,
	`service() { throttle }`, `service() { error }`, `service("auth") { ok }`,
	`service("api") { fault = true OR responsetime > 2.5 } AND annotation.account = 12345`,
	`service("data-plane") { root = true and fault = true }`, `service("orders") { root }`, `service("orders") { !root }`,
	`service("billing") { http.status = 429 }`, `service("billing") { http.status >= 500 }`,
	`service("api") { responsetime > 1 }`, `service("api") { duration < 0.1 }`,
	`service("auth") { http.url CONTAINS "v2" }`, `service("auth") { user = "bob" }`, `service() { http.method = "DELETE" and error }`,
	`service(id(name: "random-name", type: "AWS::Lambda::Function")) { error }`,
	`service(id(name: "random-name", type: "AWS::Lambda")) { error }`,
	`service(id(type: "AWS::Lambda::Function"))`, `service(id(type: "AWS::ECS::Container")) { fault }`,
	`service(id(account.id: "123456789012"))`, `service(id(name: "api", account.id: "210987654321"))`,
	`service("scorekeep-user")`, `service(id(name: "orders-table", type: "AWS::DynamoDB::Table")) { fault }`,
	`service(id(type: "AWS::DynamoDB"))`, `service("jobs-queue")`, `service(id(type: "AWS::SQS"))`, `service("my-bucket")`,
	`service(id(type: "AWS::SNS")) { throttle }`, `service(id(type: "remote"))`, `service("backend.example.com") { error }`,
	`service(id(type: "Database::SQL")) { fault }`, `service(id(type: "AWS::Lambda"))`,
	`service("downstream")`,
	// edge()
	`edge("api", "auth")`, `edge("api", "auth") { error }`, `edge("api", "scorekeep-user") { fault OR error }`,
	`edge("api", "backend.example.com")`, `edge("orders", "random-name")`, `edge("random-name", "random-name")`,
	`edge(id(name: "random-name", type: "AWS::Lambda"), id(name: "random-name", type: "AWS::Lambda::Function"))`,
	`edge(id(type: "AWS::Lambda::Function"), "orders-table")`, `edge("auth", id(type: "remote")) { responsetime > 0.5 }`,
	`edge("api", "api") { ok }`, `edge("auth", "random-name") { fault }`, `edge("api", "random-name") { http.status >= 400 }`, `edge(id(type: "AWS::EC2::Instance"), id(account.id: "123456789012"))`,
	`!edge("api", "auth")`, `edge("orders", "api") { responsetime < 0.5 }`,
	// combinations, precedence, juxtaposition, && || !
	`ok !partial duration < 3`, `(fault OR error) AND responsetime > 0.5`, `fault OR error AND responsetime > 0.5`,
	`!(fault OR error)`, `fault && !throttle`, `error || throttle`, `NOT (user = "alice" OR user = "bob")`,
	`throttle OR service() { throttle }`, `!!ok`, `((ok))`,
	`http.url BEGINSWITH "http://api.example.com/" AND http.url CONTAINS "/v2/" AND !service("api.example.com")`,
	`service("api") { fault } AND NOT service("auth")`, `annotation.age > 10 annotation.age < 20`,
	// rootcause (SQL narrows, Match decides)
	`rootcause.fault.service { name = "api" }`, `rootcause.fault.service { last and type = "AWS::DynamoDB::Table" }`,
	`rootcause.fault.entity { last and name = "deserialize" }`, `rootcause.fault.service { index > 1 }`,
	`rootcause.error.exception { message CONTAINS "Denied" }`, `rootcause.error.exception { last and name = "AccessDenied" }`,
	`rootcause.error.service { inferred }`, `rootcause.fault.entity { remote }`,
	`rootcause.responsetime.entity { remote and coverage > 0.5 }`, `rootcause.responsetime.service { last and type = "AWS::DynamoDB::Table" }`,
	`rootcause.responsetime.service { first and name = "api" }`, `!rootcause.fault.service { name = "auth" }`,
	`rootcause.json = #[{"Services": [{"Name": "api"}]}]`, `fault AND NOT rootcause.json = #[{"ClientImpacting": false}]`,
}
