import Foundation
import HTTP
import Logging
import SigV4
import Testing
@testable import AWS

@Suite struct QueryXMLTests {
    @Test(arguments: [
        ("<a><Code>Throttling</Code></a>", "Code", "Throttling"),
        ("<a><CodeSet>x</CodeSet><Code>Real</Code></a>", "Code", "Real"),
        ("<a><Code xmlns=\"u\">Attr</Code></a>", "Code", "Attr"),
        ("<a><Token>a&amp;b&lt;c&gt;d&quot;e&apos;f</Token></a>", "Token", "a&b<c>d\"e'f"),
        ("<a><Token>&#65;&#x42;&#x1F600;</Token></a>", "Token", "AB😀"),
        ("<a><Token/></a>", "Token", ""),
        ("<a><Token></Token></a>", "Token", ""),
    ])
    func extractsFlatText(xml: String, name: String, expected: String) throws {
        #expect(try QueryXML(Array(xml.utf8)).text(name) == expected)
    }

    @Test func absentElementIsNil() throws {
        #expect(try QueryXML(Array("<a><Other>x</Other></a>".utf8)).text("Code") == nil)
    }

    @Test(arguments: [
        "<a><Code>x</a>",
        "<a><Code>x<b>y</b></Code></a>",
        "<a><Code>&bogus;</Code></a>",
        "<a><Code>&#xZZ;</Code></a>",
        "<a><Code>&#0;</Code></a>",
        "<a><Code>a & b</Code></a>",
        "<a><Code attr=\"1\"",
    ])
    func malformedIsAnErrorNamingTheElementNotItsText(xml: String) throws {
        let error = try #require(throws: QueryXML.Malformed.self) { try QueryXML(Array(xml.utf8)).text("Code") }
        #expect(error.element == "Code")
        #expect(error.description.hasPrefix("<Code> "))
    }
}

@Suite struct QueryFormTests {
    @Test func encodesWithTheUnreservedSet() {
        let body = QueryForm.encode([("Action", "AssumeRole"), ("Token", "a+b/c=d e~f-g.h_i"), ("Name", "é")])
        #expect(String(decoding: body, as: UTF8.self) == "Action=AssumeRole&Token=a%2Bb%2Fc%3Dd%20e~f-g.h_i&Name=%C3%A9")
    }
}

@Suite struct ISO8601TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0.0),
        ("2026-11-21T08:02:12Z", 1_795_248_132.0),
        ("2026-11-21T08:02:12.5Z", 1_795_248_132.5),
        ("2026-11-21T09:02:12+01:00", 1_795_248_132.0),
        ("2000-02-29T00:00:00Z", 951_782_400.0),
    ])
    func parses(text: String, seconds: Double) {
        #expect(ISO8601Timestamp.secondsSince1970(text) == seconds)
    }

    @Test(arguments: ["", "2026-11-21", "2026-11-21T08:02:12", "2026-13-01T00:00:00Z", "2026-11-21T08:02:12.Z", "2026-11-21T08:02:12Zjunk"])
    func rejects(text: String) {
        #expect(ISO8601Timestamp.secondsSince1970(text) == nil)
    }
}

@Suite(.timeLimit(.minutes(1))) struct STSClientTests {
    static let endpoint = Endpoint(url: "http://127.0.0.1:9/sts", host: "127.0.0.1:9", source: "test")
    static let caller = Credentials(accessKeyID: "AKIDCALLER", secretAccessKey: "CALLERSECRET", sessionToken: "CALLERTOKEN")

    static func client(_ transport: ScriptedTransport) -> STSClient {
        STSClient(
            http: transport, region: "eu-west-1", endpoint: endpoint,
            retryPolicy: RetryPolicy(maxAttempts: 3, base: .milliseconds(1), cap: .milliseconds(5)))
    }

    static func credentialsResponse(_ action: String) -> Result<HTTPResponse, HTTPError> {
        .success(
            HTTPResponse(
                status: 200,
                body: Array(
                    """
                    <\(action)Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><\(action)Result><Credentials>\
                    <AccessKeyId>ASIATEMP</AccessKeyId><SecretAccessKey>TEMPSECRET</SecretAccessKey>\
                    <SessionToken>TOKEN&amp;PART</SessionToken><Expiration>2026-11-21T08:02:12.361272Z</Expiration>\
                    </Credentials></\(action)Result></\(action)Response>
                    """.utf8)))
    }

    static func form(_ request: HTTPRequest) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: request.body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            fields[String(parts[0])] = String(parts[1]).removingPercentEncoding
        }
        return fields
    }

    @Test func webIdentityIsAnUnsignedFormPost() async throws {
        let transport = ScriptedTransport([Self.credentialsResponse("AssumeRoleWithWebIdentity")])
        let credentials = try await Self.client(transport).assumeRoleWithWebIdentity(
            roleArn: "arn:aws:iam::123456789012:role/web", sessionName: "s1", webIdentityToken: "eyJ+/=", durationSeconds: 900)
        #expect(credentials.accessKeyID == "ASIATEMP")
        #expect(credentials.secretAccessKey == "TEMPSECRET")
        #expect(credentials.sessionToken == "TOKEN&PART")
        #expect(credentials.expiration == Date(timeIntervalSince1970: 1_795_248_132.361272))
        let request = try #require(transport.sent.first)
        #expect(request.method == "POST")
        #expect(request.url == "http://127.0.0.1:9/sts")
        #expect(request.headers.first { $0.name == "content-type" }?.value == "application/x-www-form-urlencoded; charset=utf-8")
        #expect(!request.headers.contains { $0.name.lowercased() == "authorization" })
        #expect(
            Self.form(request) == [
                "Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15",
                "RoleArn": "arn:aws:iam::123456789012:role/web", "RoleSessionName": "s1",
                "WebIdentityToken": "eyJ+/=", "DurationSeconds": "900",
            ])
    }

    @Test func assumeRoleIsSignedForSTSOnEveryAttempt() async throws {
        let transport = ScriptedTransport([
            .success(HTTPResponse(status: 503, body: Array("<ErrorResponse><Error><Code>ServiceUnavailable</Code></Error></ErrorResponse>".utf8))),
            Self.credentialsResponse("AssumeRole"),
        ])
        let credentials = try await Self.client(transport).assumeRole(
            roleArn: "arn:aws:iam::123456789012:role/r", sessionName: "s", externalID: "ext-1", durationSeconds: 1200,
            credentials: Self.caller)
        #expect(credentials.accessKeyID == "ASIATEMP")
        #expect(transport.sent.count == 2)
        for request in transport.sent {
            let authorization = try #require(request.headers.first { $0.name == "Authorization" }?.value)
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDCALLER/"))
            #expect(authorization.contains("/eu-west-1/sts/aws4_request"))
            #expect(request.headers.contains { $0.name == "X-Amz-Security-Token" && $0.value == "CALLERTOKEN" })
            #expect(Self.form(request)["ExternalId"] == "ext-1")
            #expect(Self.form(request)["DurationSeconds"] == "1200")
        }
    }

    @Test func getCallerIdentity() async throws {
        let transport = ScriptedTransport([
            .success(
                HTTPResponse(
                    status: 200,
                    body: Array(
                        """
                        <GetCallerIdentityResponse><GetCallerIdentityResult><UserId>AIDAX</UserId><Account>123456789012</Account>\
                        <Arn>arn:aws:iam::123456789012:user/u</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>
                        """.utf8)))
        ])
        let identity = try await Self.client(transport).getCallerIdentity(credentials: Self.caller)
        #expect(identity == CallerIdentity(account: "123456789012", arn: "arn:aws:iam::123456789012:user/u", userID: "AIDAX"))
        #expect(Self.form(try #require(transport.sent.first)) == ["Action": "GetCallerIdentity", "Version": "2011-06-15"])
    }

    @Test(arguments: [
        (
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad token SECRET-JWT</Message></Error><RequestId>req-1</RequestId></ErrorResponse>",
            nil, "InvalidIdentityToken", "bad token <redacted>", "req-1"
        ),
        ("<html>proxy</html>", "req-2", "HTTP400", "", "req-2"),
    ])
    func errorsAreTypedAndRedacted(body: String, headerRequestID: String?, code: String, message: String, requestID: String) async throws {
        let transport = ScriptedTransport([
            .success(HTTPResponse(status: 400, headers: headerRequestID.map { [("x-amzn-RequestId", $0)] } ?? [], body: Array(body.utf8)))
        ])
        let error = try await #require(throws: AWSError.self) {
            try await Self.client(transport).assumeRoleWithWebIdentity(roleArn: "arn:r", sessionName: "s", webIdentityToken: "SECRET-JWT")
        }
        #expect(error.code == code)
        #expect(error.message == message)
        #expect(error.requestID == requestID)
        #expect(error.operation == "AssumeRoleWithWebIdentity")
        #expect(!error.description.contains("SECRET-JWT"))
        #expect(transport.sent.count == 1, "a client error is not retried")
    }

    @Test(arguments: [
        (
            "<R><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>SUPERSECRET</SecretAccessKey><Expiration>2026-01-01T00:00:00Z</Expiration></Credentials></R>",
            "no <SessionToken>"
        ),
        (
            "<R><AccessKeyId>A</AccessKeyId><SecretAccessKey>SUPERSECRET</SecretAccessKey><SessionToken>T</SessionToken><Expiration>soon</Expiration></R>",
            "not an ISO-8601"
        ),
        (
            "<R><AccessKeyId>A</AccessKeyId><SecretAccessKey>SUPER&nope;SECRET</SecretAccessKey><SessionToken>T</SessionToken><Expiration>2026-01-01T00:00:00Z</Expiration></R>",
            "<SecretAccessKey> holds an unknown"
        ),
    ])
    func unusableResultIsAnErrorWithoutSecrets(body: String, reason: String) async throws {
        let transport = ScriptedTransport([.success(HTTPResponse(status: 200, body: Array(body.utf8)))])
        let error = try await #require(throws: AWSResponseError.self) {
            try await Self.client(transport).assumeRole(roleArn: "arn:r", sessionName: "s", credentials: Self.caller)
        }
        #expect(error.reason.contains(reason))
        #expect(!error.description.contains("SUPER"))
    }
}
