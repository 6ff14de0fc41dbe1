import Foundation
import SigV4
import Testing

@Suite struct SignerTests {
    static let credentials = Credentials(
        accessKeyID: "ASIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        sessionToken: "IQoJb3JpZ2luX2VjEXAMPLEsessiontoken//////////wEaCXVzLWVhc3QtMSJHMEUCIQD")
    static let date = Date(timeIntervalSince1970: 1_709_251_199) // 2024-02-29T23:59:59Z
    static let body = Array(
        #"{"taskToken":"AQCEAAAAKgAAAAMAAAAAAAAAAbcdEXAMPLEtoken","output":"{\"ProcessingJobName\":\"job-1\",\"ProcessingJobStatus\":\"Completed\"}"}"#
            .utf8)

    static func sendTaskSuccess(extraHeaders: [(name: String, value: String)] = []) -> SignableRequest {
        SignableRequest(
            method: "POST", path: "/",
            headers: [
                ("Host", "states.us-east-1.amazonaws.com"),
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", "AWSStepFunctions.SendTaskSuccess"),
                ("Content-Length", "\(body.count)"),
            ] + extraHeaders,
            body: body)
    }

    static func sign(
        _ request: SignableRequest, service: String = "states", normalizePath: Bool = true
    ) -> SigningResult {
        SigV4Signer(service: service, region: "us-east-1", normalizePath: normalizePath)
            .sign(request, credentials: credentials, date: date)
    }

    static func lines(of result: SigningResult) -> [String] {
        result.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// A Step Functions call as the AWS client sends it. The expected value comes from an
    /// independent implementation, botocore 1.43.11 (`SigV4Auth(credentials, "states",
    /// "us-east-1").add_auth(request)` with the clock fixed), so it pins the wire result.
    @Test func jsonProtocolRequestMatchesBotocore() {
        let result = Self.sign(Self.sendTaskSuccess())
        #expect(
            result.authorization
                == "AWS4-HMAC-SHA256 Credential=ASIAIOSFODNN7EXAMPLE/20240229/us-east-1/states/aws4_request, "
                + "SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target, "
                + "Signature=262f644443cbe156c5de33504887eedb4569b4b7d7182203fe4881134a8e830a")
        #expect(result.headers.map(\.name) == ["X-Amz-Date", "X-Amz-Security-Token", "Authorization"])
        #expect(
            result.headers.map(\.value) == [
                "20240229T235959Z", Self.credentials.sessionToken!, result.authorization,
            ])
    }

    @Test func sameInputsSameSignatureAndTheDateMatters() {
        let first = Self.sign(Self.sendTaskSuccess())
        #expect(Self.sign(Self.sendTaskSuccess()).signature == first.signature)
        let later = SigV4Signer(service: "states", region: "us-east-1")
            .sign(Self.sendTaskSuccess(), credentials: Self.credentials, date: Self.date + 1)
        #expect(later.signature != first.signature)
        #expect(later.headers.first?.value == "20240301T000000Z")
    }

    /// Headers proxies and HTTP stacks rewrite are left out, as the AWS SDKs do.
    @Test func headersOthersRewriteAreNotSigned() {
        let plain = Self.sign(Self.sendTaskSuccess())
        let extra = Self.sign(
            Self.sendTaskSuccess(extraHeaders: [
                ("User-Agent", "sagemaker-callback/1.0"), ("Expect", "100-continue"),
                ("Transfer-Encoding", "chunked"),
                ("X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
            ]))
        #expect(extra.signature == plain.signature)
    }

    /// Copies of the headers the signer sets (say, from a previous attempt) are replaced, not
    /// signed twice.
    @Test func staleSigningHeadersOnTheRequestAreIgnored() {
        let plain = Self.sign(Self.sendTaskSuccess())
        let stale = Self.sign(
            Self.sendTaskSuccess(extraHeaders: [
                ("X-Amz-Date", "20000101T000000Z"), ("Authorization", "AWS4-HMAC-SHA256 stale"),
                ("x-amz-security-token", "stale-token"),
            ]))
        #expect(stale.canonicalRequest == plain.canonicalRequest)
        #expect(stale.signature == plain.signature)
    }

    @Test func tokenHeaderAddedUnsignedWhenAsked() {
        let signer = SigV4Signer(service: "states", region: "us-east-1", signSessionToken: false)
        let result = signer.sign(Self.sendTaskSuccess(), credentials: Self.credentials, date: Self.date)
        #expect(!result.canonicalRequest.contains("x-amz-security-token"))
        #expect(result.headers.contains { $0.name == "X-Amz-Security-Token" })
    }

    @Test(arguments: [nil, ""] as [String?])
    func noTokenHeaderWithoutASessionToken(token: String?) {
        let longTerm = Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: token)
        let result = SigV4Signer(service: "states", region: "us-east-1")
            .sign(Self.sendTaskSuccess(), credentials: longTerm, date: Self.date)
        #expect(result.headers.map(\.name) == ["X-Amz-Date", "Authorization"])
        #expect(!result.canonicalRequest.contains("x-amz-security-token"))
    }

    @Test(
        arguments: [
            // (service, normalizePath, path on the wire, canonical URI)
            ("states", true, "/", "/"),
            ("states", true, "", "/"),
            ("states", true, "/a/./b/../c/", "/a/c/"),
            ("states", true, "/..", "/"),
            ("states", true, "/a/.", "/a"),
            ("states", true, "/a//b/", "/a/b/"),
            ("states", true, "/my%20object", "/my%2520object"), // non-S3: encoded once more
            ("states", false, "/a//./b", "/a//./b"),
            ("s3", false, "/my%20object//photo.jpg", "/my%20object//photo.jpg"), // S3: as sent
        ] as [(String, Bool, String, String)])
    func canonicalURI(service: String, normalizePath: Bool, path: String, expected: String) {
        let request = SignableRequest(method: "GET", path: path, headers: [("host", "example.com")])
        let result = Self.sign(request, service: service, normalizePath: normalizePath)
        #expect(Self.lines(of: result)[1] == expected)
    }

    @Test(arguments: [
        ("", ""),
        ("b=2&a=1&a&c=%7e", "a=&a=1&b=2&c=~"), // key without "=", needless escape undone
        ("d=x+y&e=%2f&f=a/b", "d=x%2By&e=%2F&f=a%2Fb"), // "+" is a plus; "/" is encoded
        ("k=%zz&&j=%E1%88%b4", "j=%E1%88%B4&k=%25zz"), // bad escape kept literal, hex uppercased
        ("p=2&p=10&P=1", "P=1&p=10&p=2"), // byte order, not numeric or case-insensitive
    ])
    func canonicalQuery(query: String, expected: String) {
        let request = SignableRequest(
            method: "GET", path: "/", query: query, headers: [("host", "example.com")])
        let result = Self.sign(request)
        #expect(Self.lines(of: result)[2] == expected)
    }

    @Test func headerValuesAreTrimmedCollapsedAndMerged() {
        let request = SignableRequest(
            method: "GET", path: "/",
            headers: [
                ("Host", "example.com"), ("X-B", "  a\t\tb   c "), ("x-a", "2"), ("X-A", "1"),
                ("X-Empty", ""), ("X-Folded", "one\r\n  two"),
            ])
        let lines = Self.lines(of: Self.sign(request))
        #expect(
            Array(lines[3..<10]) == [
                "host:example.com", "x-a:2,1", "x-amz-date:20240229T235959Z",
                "x-amz-security-token:\(Self.credentials.sessionToken!)", "x-b:a b c", "x-empty:",
                "x-folded:one two",
            ])
        #expect(lines[11] == "host;x-a;x-amz-date;x-amz-security-token;x-b;x-empty;x-folded")
    }

    @Test func contentSHA256HeaderWhenAsked() {
        let signer = SigV4Signer(service: "s3", region: "us-east-1", addContentSHA256Header: true)
        let result = signer.sign(Self.sendTaskSuccess(), credentials: Self.credentials, date: Self.date)
        let hash = Digest.sha256Hex(Self.body)
        #expect(result.canonicalRequest.contains("\nx-amz-content-sha256:\(hash)\n"))
        #expect(result.headers.contains { $0.name == "X-Amz-Content-SHA256" && $0.value == hash })
    }

    /// A signer reuses its last signing key; changing the secret or the day must not reuse it,
    /// even with copies of one signer signing from many tasks at once.
    @Test(.timeLimit(.minutes(1))) func signingKeyReuseNeverCrossesSecretsOrDays() async {
        let other = Credentials(accessKeyID: "AKIDOTHER", secretAccessKey: "another secret")
        let inputs = (0..<64).map { index in
            // 2024-02-29T23:59:59Z, a second later (next day), and the day after that.
            (index % 2 == 0 ? Self.credentials : other, Self.date + [0, 1, 86_401][index / 2 % 3])
        }
        let expected = inputs.map { credentials, date in
            SigV4Signer(service: "states", region: "us-east-1")
                .sign(Self.sendTaskSuccess(), credentials: credentials, date: date).signature
        }
        let shared = SigV4Signer(service: "states", region: "us-east-1")
        let actual = await withTaskGroup(of: (Int, String).self) { group in
            for (index, (credentials, date)) in inputs.enumerated() {
                group.addTask {
                    let result = shared.sign(Self.sendTaskSuccess(), credentials: credentials, date: date)
                    return (index, result.signature)
                }
            }
            var signatures = [String](repeating: "", count: inputs.count)
            for await (index, signature) in group { signatures[index] = signature }
            return signatures
        }
        #expect(actual == expected)
        #expect(Set(expected).count == 6) // two secrets by three days
        // And in known orders: first the secret changes within a day, then (even indices first)
        // the day changes under one secret.
        let order =
            Array(inputs.indices) + inputs.indices.filter { $0 % 2 == 0 }
            + inputs.indices.filter { $0 % 2 == 1 }
        let sequential = order.map { index in
            shared.sign(Self.sendTaskSuccess(), credentials: inputs[index].0, date: inputs[index].1).signature
        }
        #expect(sequential == order.map { expected[$0] })
    }
}
