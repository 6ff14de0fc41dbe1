#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AWS
import HTTP
import JSON
import Relay
import SigV4

/// One parser of untrusted bytes, as the fuzzer and the regression tests drive it.
///
/// `run` feeds the input to the parser and checks what the rest of the service relies on about
/// the result (a parsed value serializes and parses back the same; an outcome fits Step
/// Functions' limits; a secret never reaches an error message). A broken promise traps, which the
/// fuzzer reports as a crash and a test replaying the input reports as a failure; a rejection is
/// not a failure.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `JSONValue.parse`, and serialize → parse giving the same value.
    case json
    /// The events queue: `EventMessage.parse` (EventBridge, SNS-wrapped, execution changes),
    /// `RecordedEvents.split` (arrays and JSON lines), and each outcome within its limits.
    case event
    /// The requests queue: `RegistrationMessage.parse`.
    case registration
    /// Query-protocol XML (STS, some error bodies): `QueryXML.text`.
    case queryXML = "query-xml"
    /// AWS error and success bodies: `AWSClient.decodeError` / `decodeSuccess`.
    case awsError = "aws-error"
    /// `~/.aws/credentials` and `~/.aws/config`: `ProfileFile.parse` (the first byte picks which).
    case credentialFile = "credential-file"
    /// `credential_process` output: `CredentialProcess.parse`.
    case credentialProcess = "credential-process"
    /// The SigV4 canonicalizer: a request in the test suite's `.req` form, signed.
    case sigV4 = "sigv4"

    /// Runs one input; traps when a promise is broken.
    public func run(_ input: [UInt8]) {
        switch self {
        case .json: Self.json(input)
        case .event: Self.event(input)
        case .registration: Self.registration(input)
        case .queryXML: Self.queryXML(input)
        case .awsError: Self.awsError(input)
        case .credentialFile: Self.credentialFile(input)
        case .credentialProcess: Self.credentialProcess(input)
        case .sigV4: Self.sigV4(input)
        }
    }

    private static func json(_ input: [UInt8]) {
        guard let value = try? JSONValue.parse(input) else { return }
        let text = value.serializedBytes()
        guard let again = try? JSONValue.parse(text) else {
            preconditionFailure("a parsed value serialized to text that does not parse")
        }
        precondition(again == value, "a parsed value changed across serialize and parse")
        precondition(again.serializedBytes() == text, "serialization is not stable")
    }

    private static func event(_ input: [UInt8]) {
        check(event: input)
        // `replay` reads files this way; a single document comes back whole.
        for piece in RecordedEvents.split(input) { check(event: Array(piece.utf8)) }
    }

    private static func check(event body: [UInt8]) {
        guard case .jobStateChange(let change)? = try? EventMessage.parse(body) else { return }
        precondition(RegistrationMessage.isValidJobName(change.jobName), "an event named an invalid job")
        switch Outcome.forChange(change) {
        case .success(let output)?:
            precondition(output.utf8.count <= Outcome.outputLimit, "a success output is over the limit")
            precondition((try? JSONValue.parse(output)) != nil, "a success output is not JSON")
        case .failure(let error, let cause)?:
            precondition(error.utf8.count <= Outcome.errorLimit, "a failure error is over the limit")
            precondition(cause.utf8.count <= Outcome.causeLimit, "a failure cause is over the limit")
            precondition((try? JSONValue.parse(cause)) != nil, "a failure cause is not JSON")
        case nil:
            precondition(!change.status.isTerminal, "a terminal change gave no outcome")
        }
    }

    private static func registration(_ input: [UInt8]) {
        switch RegistrationMessage.parse(input) {
        case .valid(let registration):
            precondition(
                !registration.taskToken.isEmpty && registration.taskToken.utf8.count <= RegistrationMessage.maxTokenLength,
                "a registration's token is empty or too long")
            precondition(RegistrationMessage.isValidJobName(registration.jobName), "a registration named an invalid job")
            precondition(registration.tokenHash == TaskTokens.hash(registration.taskToken), "a token hash does not match")
        case .invalid(let token, let reason):
            precondition(
                token.map { $0.utf8.count <= RegistrationMessage.maxTokenLength } ?? true,
                "an invalid registration carried a token too long to fail")
            precondition(!reason.isEmpty, "a rejection gave no reason")
        }
    }

    /// The element names the service reads from query-protocol XML.
    private static let xmlElements = ["Code", "Message", "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"]

    private static func queryXML(_ input: [UInt8]) {
        let xml = QueryXML(input)
        for element in xmlElements {
            do {
                _ = try xml.text(element)
            } catch {
                precondition(error.element == element, "an XML error named another element")
            }
        }
    }

    /// A secret the error decoder is asked to redact: it must never come back in a message.
    private static let secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"

    private static func awsError(_ input: [UInt8]) {
        var body = input
        // Let the fuzzer place the secret: the byte 0x01 stands for it.
        if let marker = body.firstIndex(of: 0x01) { body.replaceSubrange(marker...marker, with: Array(secret.utf8)) }
        for status in [400, 500] {
            let response = HTTPResponse(status: status, headers: [("x-amzn-query-error", "AWS.SimpleQueueService.Fuzz;Sender")], body: body)
            let error = AWSClient.decodeError(response, operation: "Fuzz", redacting: [secret])
            precondition(!error.message.contains(secret) && !error.description.contains(secret), "an error message kept a redacted secret")
            precondition(!error.code.contains("#"), "an error code kept its namespace")
        }
        _ = try? AWSClient.decodeSuccess(HTTPResponse(status: 200, body: body), operation: "Fuzz")
    }

    private static func credentialFile(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let text = String(decoding: input.dropFirst(), as: UTF8.self)
        let file = ProfileFile.parse(text, kind: first & 1 == 0 ? .credentials : .config)
        for (_, settings) in file.profiles {
            for (key, value) in settings {
                precondition(!key.isEmpty && !value.isEmpty, "a profile kept an empty key or value")
                precondition(key == key.lowercased(), "a profile key was not lowercased")
            }
        }
    }

    private static func credentialProcess(_ input: [UInt8]) {
        let process = CredentialProcess(command: "fuzz", profile: "fuzz", timeout: .seconds(1))
        do {
            let credentials = try process.parse(input)
            precondition(!credentials.accessKeyID.isEmpty && !credentials.secretAccessKey.isEmpty, "credentials without keys")
        } catch {
            // The output holds secrets: an error may name the profile, never repeat the output.
            if input.count >= 8, let text = String(validating: input, as: UTF8.self) {
                precondition(!error.description.contains(text), "an error repeated the command's output")
            }
        }
    }

    private static let credentials = Credentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "session")
    private static let signer = SigV4Signer(service: "service", region: "us-east-1")
    private static let date = Date(timeIntervalSince1970: 1_440_938_160)

    private static func sigV4(_ input: [UInt8]) {
        let request = WireRequest.parse(input)
        let first = signer.sign(request, credentials: credentials, date: date)
        precondition(
            first.signature.utf8.count == 64 && first.signature.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) },
            "a signature is not 64 lowercase hex digits")
        let second = signer.sign(request, credentials: credentials, date: date)
        precondition(first.signature == second.signature, "signing the same request twice differed")
        precondition(!first.canonicalRequest.contains(credentials.secretAccessKey), "a canonical request holds the secret key")
    }
}
