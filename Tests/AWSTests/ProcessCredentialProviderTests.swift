import Foundation
import SigV4
import Testing
@testable import AWS

/// Writes an executable shell script into the fixture's directory and returns its path.
func writeScript(_ files: SharedFilesFixture, _ name: String, _ body: String) throws -> String {
    let path = files.directory + "/" + name
    try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
    return path
}

@Suite(.timeLimit(.minutes(1))) struct ProcessCredentialProviderTests {
    @Test func nothingWithoutCredentialProcess() async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig("[default]\nregion = us-east-1\n")
        let provider = ProcessCredentialProvider(environment: files.environment())
        #expect(try await provider.credentials() == nil)
        #expect(provider.notFoundReason.contains("credential_process"))
    }

    @Test func readsTheDocumentTheCommandPrints() async throws {
        let files = try SharedFilesFixture()
        let script = try writeScript(
            files, "creds",
            """
            echo "diagnostics go to stderr" >&2
            printf '%s' '{"Version": 1, "AccessKeyId": "ASIAPROC", "SecretAccessKey": "PROCSECRET", "SessionToken": "PROCTOKEN", "Expiration": "2026-11-21T08:02:12Z"}'
            """)
        // Arguments after the script, with quoting, as users write them.
        try files.writeConfig("[profile ci]\ncredential_process = \(script) --role 'a b'\n")
        let credentials = try await ProcessCredentialProvider(environment: files.environment(), profile: "ci").credentials()
        #expect(
            credentials
                == Credentials(
                    accessKeyID: "ASIAPROC", secretAccessKey: "PROCSECRET", sessionToken: "PROCTOKEN",
                    expiration: Date(timeIntervalSince1970: 1_795_248_132)))
    }

    @Test func longTermKeysHaveNoExpiry() async throws {
        let files = try SharedFilesFixture()
        try files.writeConfig(#"[default]\#ncredential_process = echo '{"Version":1,"AccessKeyId":"AKIAP","SecretAccessKey":"S"}'\#n"#)
        let credentials = try await ProcessCredentialProvider(environment: files.environment()).credentials()
        #expect(credentials == Credentials(accessKeyID: "AKIAP", secretAccessKey: "S"))
    }

    @Test(arguments: [
        ("echo '{\"Version\":1,\"AccessKeyId\":\"AKIALEAK\",\"SecretAccessKey\":\"LEAKSECRET\"}'; exit 3", "exited with status 3"),
        ("echo 'AKIALEAK LEAKSECRET'", "not a JSON object"),
        ("echo '{\"Version\":2,\"AccessKeyId\":\"AKIALEAK\",\"SecretAccessKey\":\"LEAKSECRET\"}'", "\"Version\": 1"),
        ("echo '{\"Version\":1,\"AccessKeyId\":\"AKIALEAK\"}'", "without AccessKeyId and SecretAccessKey"),
        ("echo '{\"Version\":1,\"AccessKeyId\":\"AKIALEAK\",\"SecretAccessKey\":\"LEAKSECRET\",\"Expiration\":\"tomorrow\"}'", "not an ISO-8601"),
        ("exit 127", "exited with status 127"),
    ])
    func failuresAreClearAndNeverEchoTheOutput(body: String, expected: String) async throws {
        let files = try SharedFilesFixture()
        let script = try writeScript(files, "creds", body)
        try files.writeConfig("[default]\ncredential_process = \(script)\n")
        let error = try await #require(throws: CredentialProviderError.self) {
            try await ProcessCredentialProvider(environment: files.environment()).credentials()
        }
        #expect(error.code == .credentialProcessFailed)
        #expect(error.message.hasPrefix("credential_process of profile 'default' "))
        #expect(error.message.contains(expected))
        #expect(!error.description.contains("LEAK"))
    }

    @Test func aHangingCommandIsKilledAtTheTimeout() async throws {
        let files = try SharedFilesFixture()
        let pidFile = files.directory + "/pid"
        // The script runs as a child of `sh -c`, and the sleep as its child: both must die.
        let script = try writeScript(files, "hang", "echo $$ > \(pidFile)\nsleep 30")
        try files.writeConfig("[default]\ncredential_process = \(script)\n")
        let started = ContinuousClock.now
        let provider = ProcessCredentialProvider(environment: files.environment(), timeout: .milliseconds(300))
        let error = try await #require(throws: CredentialProviderError.self) { try await provider.credentials() }
        #expect(error.message.contains("did not finish within"))
        // The script sleeps 30 s: this shows it was cut short (with room for a stalled CI machine).
        #expect(ContinuousClock.now - started < .seconds(20))
        let pid = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Gone (killed and reaped) well before its 30 seconds are up.
        let deadline = ContinuousClock.now + .seconds(10)
        while kill(pid, 0) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(kill(pid, 0) == -1, "the command the shell started still runs after the timeout")
    }
}
