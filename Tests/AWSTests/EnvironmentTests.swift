import Foundation
import Testing
import AWS

@Suite struct EnvironmentTests {
    @Test func readsSetVariables() {
        let environment = Environment(["AWS_REGION": "eu-west-1"])
        #expect(environment["AWS_REGION"] == "eu-west-1")
        #expect(environment["AWS_DEFAULT_REGION"] == nil)
    }

    @Test func emptyStringsCountAsUnset() {
        let environment = Environment(["AWS_REGION": "", "AWS_PROFILE": " "])
        #expect(environment["AWS_REGION"] == nil)
        // Only empty is unset; whitespace is a value the reader validates.
        #expect(environment["AWS_PROFILE"] == " ")
    }

    @Test func processEnvironmentMatchesProcessInfo() throws {
        let path = try #require(ProcessInfo.processInfo.environment["PATH"])
        #expect(Environment.process["PATH"] == path)
    }
}
