import Foundation
import SigV4
import Testing

@Suite struct CredentialsTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    static let token = "IQoJb3JpZ2luX2VjEXAMPLEsessiontoken//////////wEaCXVzLWVhc3QtMSJHMEUCIQD"

    @Test(arguments: [
        Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: secret),
        Credentials(
            accessKeyID: "ASIAIOSFODNN7EXAMPLE", secretAccessKey: secret, sessionToken: token,
            expiration: Date(timeIntervalSince1970: 1_440_941_760)),
        Credentials(accessKeyID: "", secretAccessKey: secret, sessionToken: token),
    ])
    func renderingsNeverRevealSecrets(_ credentials: Credentials) {
        var dumped = ""
        dump(credentials, to: &dumped)
        for rendering in [
            credentials.description, "\(credentials)", String(reflecting: credentials), dumped,
        ] {
            #expect(!rendering.contains(Self.secret))
            #expect(!rendering.contains(Self.token))
            #expect(!rendering.contains("K7MDENG")) // not even a fragment
            #expect(!rendering.contains("sessiontoken"))
            if !credentials.accessKeyID.isEmpty {
                #expect(!rendering.contains(credentials.accessKeyID))
            }
        }
    }

    @Test func descriptionIdentifiesTheKeyAndExpiry() {
        let credentials = Credentials(
            accessKeyID: "ASIAIOSFODNN7EXAMPLE", secretAccessKey: Self.secret,
            sessionToken: Self.token, expiration: Date(timeIntervalSince1970: 1_440_941_760))
        #expect(
            credentials.description
                == "Credentials(accessKeyID: ****MPLE, secretAccessKey: <redacted>, "
                + "sessionToken: <redacted>, expiration: 2015-08-30T13:36:00Z)")
        let plain = Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Self.secret)
        #expect(plain.description.hasSuffix("sessionToken: none, expiration: never)"))
    }
}
