import Foundation
import SigV4
import Testing

/// One case of the published SigV4 test suites copied into `Fixtures/` (see its PROVENANCE.md):
/// where its files are, and the signer and credentials it was produced with.
struct SigningVector: Sendable, CustomTestStringConvertible {
    enum Suite: String, Sendable {
        /// botocore's copy of the AWS SigV4 test suite: `<case>/<case>.{req,creq,sts,authz,sreq}`.
        case awsSigV4 = "aws-sig-v4-test-suite"
        /// aws-c-auth's suite: `context.json`, `request.txt`, `header-*.txt` and `query-*.txt`.
        case awsCAuth = "aws-c-auth-signing-test-suite"
    }

    enum Step {
        case request, canonicalRequest, stringToSign, signature, authorization, signedRequest
    }

    let suite: Suite
    /// The case's path inside its suite, e.g. `normalize-path/get-space`.
    let name: String
    let directory: URL

    var testDescription: String { "\(suite.rawValue)/\(name)" }

    /// Every case of both suites: a directory holding `<dir>.req` (aws-sig-v4-test-suite) or
    /// `request.txt` (aws-c-auth). aws-c-auth's `query-*.txt` files are not used: they describe
    /// query-string signing (presigned URLs), which this signer does not do; every case's
    /// header-signing files are.
    static func all() throws -> [SigningVector] {
        try cases(in: .awsSigV4) + cases(in: .awsCAuth)
    }

    static func cases(in suite: Suite) throws -> [SigningVector] {
        let root = try fixtures.appending(path: suite.rawValue, directoryHint: .isDirectory)
        let manager = FileManager.default
        guard let walker = manager.enumerator(at: root, includingPropertiesForKeys: nil) else {
            throw RawRequest.ParseError(description: "cannot list \(root.path)")
        }
        var found: [SigningVector] = []
        for case let url as URL in walker {
            let marker = suite == .awsSigV4 ? "\(url.lastPathComponent).req" : "request.txt"
            guard manager.fileExists(atPath: url.appending(path: marker).path) else { continue }
            let name = url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1)
            found.append(SigningVector(suite: suite, name: String(name), directory: url))
        }
        return found.sorted { $0.name < $1.name }
    }

    static var fixtures: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        }
    }

    func bytes(_ step: Step) throws -> [UInt8] {
        let base = directory.lastPathComponent
        let file: String
        switch (suite, step) {
        case (.awsSigV4, .request): file = "\(base).req"
        case (.awsSigV4, .canonicalRequest): file = "\(base).creq"
        case (.awsSigV4, .stringToSign): file = "\(base).sts"
        case (.awsSigV4, .authorization): file = "\(base).authz"
        case (.awsSigV4, .signature), (.awsSigV4, .signedRequest):
            // No signature file: the signature is the end of `.authz`. The `.sreq` files are not
            // checked: get-vanilla-with-session-token.sreq carries get-vanilla's signature (an
            // erratum of that suite; its .authz is right). aws-c-auth's signed requests are.
            throw RawRequest.ParseError(description: "\(step) has no file in \(suite.rawValue)")
        case (.awsCAuth, .request): file = "request.txt"
        case (.awsCAuth, .canonicalRequest): file = "header-canonical-request.txt"
        case (.awsCAuth, .stringToSign): file = "header-string-to-sign.txt"
        case (.awsCAuth, .signature): file = "header-signature.txt"
        case (.awsCAuth, .signedRequest): file = "header-signed-request.txt"
        case (.awsCAuth, .authorization):
            // The Authorization value is a header of the signed request.
            let signed = try RawRequest(parsing: bytes(.signedRequest))
            let value = signed.headers.first { $0.name.lowercased() == "authorization" }?.value
            return Array(try #require(value).utf8)
        }
        return Array(try Data(contentsOf: directory.appending(path: file)))
    }

    func text(_ step: Step) throws -> String {
        String(decoding: try bytes(step), as: UTF8.self)
    }

    /// The case's request signed as the suite specifies.
    func sign() throws -> SigningResult {
        let raw = try RawRequest(parsing: bytes(.request))
        let request = SignableRequest(
            method: raw.method, path: raw.path, query: raw.query, headers: raw.headers, body: raw.body)
        let context = try self.context()
        let signer = SigV4Signer(
            service: context.service, region: context.region, normalizePath: context.normalize,
            signSessionToken: !context.omitSessionToken, addContentSHA256Header: context.signBody)
        return signer.sign(request, credentials: context.credentials, date: context.date)
    }

    struct Context {
        var credentials: Credentials
        var service = "service"
        var region = "us-east-1"
        var normalize = true
        var signBody = false
        var omitSessionToken = false
        // 2015-08-30T12:36:00Z, the date of every case.
        var date = Date(timeIntervalSince1970: 1_440_938_160)
    }

    private func context() throws -> Context {
        switch suite {
        case .awsCAuth:
            let data = try Data(contentsOf: directory.appending(path: "context.json"))
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let file = try decoder.decode(ContextFile.self, from: data)
            return Context(
                credentials: Credentials(
                    accessKeyID: file.credentials.accessKeyId,
                    secretAccessKey: file.credentials.secretAccessKey,
                    sessionToken: file.credentials.token),
                service: file.service, region: file.region, normalize: file.normalize,
                signBody: file.signBody, omitSessionToken: file.omitSessionToken ?? false,
                date: try Date(file.timestamp, strategy: .iso8601))
        case .awsSigV4:
            // This suite has no context file: its README gives the key, date, region and service;
            // the session tokens come from post-sts-token/readme.txt and, for
            // get-vanilla-with-session-token, the case's .creq (aws-c-auth's context.json has
            // the same token).
            var token: String? = nil
            if name == "get-vanilla-with-session-token" {
                token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
            } else if name.hasPrefix("post-sts-token/") {
                let readme = try String(
                    contentsOf: directory.deletingLastPathComponent().appending(path: "readme.txt"),
                    encoding: .utf8)
                token = String(try #require(readme.split(separator: "\n").last))
            }
            return Context(
                credentials: Credentials(
                    accessKeyID: "AKIDEXAMPLE",
                    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                    sessionToken: token),
                omitSessionToken: name == "post-sts-token/post-sts-header-after")
        }
    }

    /// `context.json`, read with snake_case keys converted.
    private struct ContextFile: Decodable {
        struct Keys: Decodable {
            var accessKeyId: String
            var secretAccessKey: String
            var token: String?
        }
        var credentials: Keys
        var normalize: Bool
        var region: String
        var service: String
        var signBody: Bool
        var timestamp: String
        var omitSessionToken: Bool?
    }
}
