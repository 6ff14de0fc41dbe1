import Foundation
import SigV4
import Testing

/// The published SigV4 vectors, one test case per vector and per step, so a failure names both.
@Suite struct SigningVectorTests {
    @Test func bothSuitesAreFound() throws {
        // Guards against a fixture layout change silently leaving cases out.
        #expect(try SigningVector.cases(in: .awsSigV4).count == 34)
        #expect(try SigningVector.cases(in: .awsCAuth).count == 38)
    }

    @Test(arguments: try SigningVector.all())
    func canonicalRequest(_ vector: SigningVector) throws {
        let (actual, expected) = (try vector.sign().canonicalRequest, try vector.text(.canonicalRequest))
        #expect(actual == expected)
    }

    @Test(arguments: try SigningVector.all())
    func stringToSign(_ vector: SigningVector) throws {
        let (actual, expected) = (try vector.sign().stringToSign, try vector.text(.stringToSign))
        #expect(actual == expected)
    }

    @Test(arguments: try SigningVector.all())
    func authorization(_ vector: SigningVector) throws {
        let result = try vector.sign()
        let expected = try vector.text(.authorization)
        #expect(result.authorization == expected)
        #expect(result.headers.last?.name == "Authorization")
        #expect(result.headers.last?.value == expected)
    }

    @Test(arguments: try SigningVector.cases(in: .awsCAuth))
    func signature(_ vector: SigningVector) throws {
        let (actual, expected) = (try vector.sign().signature, try vector.text(.signature))
        #expect(actual == expected)
    }

    /// The request plus the signer's headers is the published signed request (header order
    /// aside). Only aws-c-auth: see `SigningVector.bytes(_:)` for the other suite's erratum.
    @Test(arguments: try SigningVector.cases(in: .awsCAuth))
    func signedRequest(_ vector: SigningVector) throws {
        let request = try RawRequest(parsing: vector.bytes(.request))
        let signed = try RawRequest(parsing: vector.bytes(.signedRequest))
        let result = try vector.sign()
        func lines(_ headers: [(name: String, value: String)]) -> [String] {
            headers.map { "\($0.name.lowercased()):\($0.value)" }.sorted()
        }
        #expect(lines(request.headers + result.headers) == lines(signed.headers))
        #expect(signed.method == request.method)
        #expect(signed.path == request.path)
        #expect(signed.query == request.query)
        #expect(signed.body == request.body)
    }
}
