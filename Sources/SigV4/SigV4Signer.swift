#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Signs HTTP requests with AWS Signature Version 4 in the `Authorization` header.
///
/// It takes a request, credentials and a date and returns the headers to add, touching no clock
/// or network; the same inputs always give the same signature. The only state it keeps is its
/// last derived signing key (per secret and day), which spares four HMACs on most requests.
///
/// Every request header is signed except those proxies and HTTP stacks are known to rewrite
/// (`user-agent`, `expect`, `transfer-encoding`, `x-amzn-trace-id`, as the AWS SDKs do), and
/// except those the signer itself sets (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` / `x-amz-content-sha256` when it adds them): a copy of these on the
/// request is ignored and should be replaced by the one in ``SigningResult/headers``.
public struct SigV4Signer: Sendable {
    /// The signing name of the service, e.g. `states`, `sqs`, `sagemaker`.
    public let service: String
    /// The region, e.g. `us-east-1`.
    public let region: String
    /// Whether `.`/`..` segments and repeated slashes are removed from the path before signing.
    /// Every service expects it except S3.
    public let normalizePath: Bool
    /// Whether the session token is part of the signature (`x-amz-security-token` among the
    /// signed headers). True for every current AWS service; `false` adds the token header after
    /// signing, the older style of a few services.
    public let signSessionToken: Bool
    /// Whether to add and sign `x-amz-content-sha256` (the payload hash), which S3 requires.
    public let addContentSHA256Header: Bool

    /// Whether the path is percent-encoded again for the canonical request: every service but S3.
    var doubleEncodePath: Bool { service != "s3" }

    private let regionBytes: [UInt8]
    private let serviceBytes: [UInt8]
    /// `/<region>/<service>/aws4_request`, the credential scope after its date.
    private let scopeSuffix: [UInt8]
    private let keyCache = SigningKeyCache()
    private static let terminator = Array("aws4_request".utf8)
    private static let algorithm = "AWS4-HMAC-SHA256"

    /// A signer for one service in one region. The defaults suit the AWS JSON-protocol services.
    public init(
        service: String, region: String, normalizePath: Bool = true,
        signSessionToken: Bool = true, addContentSHA256Header: Bool = false
    ) {
        self.service = service
        self.region = region
        self.normalizePath = normalizePath
        self.signSessionToken = signSessionToken
        self.addContentSHA256Header = addContentSHA256Header
        regionBytes = Array(region.utf8)
        serviceBytes = Array(service.utf8)
        scopeSuffix = Array("/\(region)/\(service)/aws4_request".utf8)
    }

    /// Signs `request` as of `date` (whole seconds, UTC) and returns the headers to add with every
    /// intermediate step. Sign each attempt afresh: the date is part of the signature.
    public func sign(_ request: SignableRequest, credentials: Credentials, date: Date) -> SigningResult {
        let amzDate = AmzDate(date)
        let amzDateText = String(decoding: amzDate.dateTime, as: UTF8.self)
        let payloadHash = Digest.hex(Digest.sha256(request.body))
        // An empty token (say, AWS_SESSION_TOKEN set but blank) means none, not a blank header.
        let token = credentials.sessionToken.flatMap { $0.isEmpty ? nil : $0 }

        let (canonical, signedHeaders) = canonicalRequest(
            request, amzDate: amzDateText, token: token, payloadHash: payloadHash)
        var scope: [UInt8] = []
        scope.reserveCapacity(8 + scopeSuffix.count)
        scope.append(contentsOf: amzDate.date)
        scope.append(contentsOf: scopeSuffix)
        let stringToSign = Self.stringToSign(
            dateTime: amzDate.dateTime, scope: scope, canonical: canonical)

        let key = keyCache.key(secret: credentials.secretAccessKey, date: amzDate.date) {
            signingKey(secret: credentials.secretAccessKey, date: amzDate.date)
        }
        let signature = Digest.hmacSHA256(key: key, data: stringToSign)
        var authorization: [UInt8] = []
        authorization.reserveCapacity(
            160 + credentials.accessKeyID.utf8.count + scope.count + signedHeaders.count)
        authorization.append(contentsOf: Self.algorithm.utf8)
        authorization.append(contentsOf: " Credential=".utf8)
        authorization.append(contentsOf: credentials.accessKeyID.utf8)
        authorization.append(UInt8(ascii: "/"))
        authorization.append(contentsOf: scope)
        authorization.append(contentsOf: ", SignedHeaders=".utf8)
        authorization.append(contentsOf: signedHeaders)
        authorization.append(contentsOf: ", Signature=".utf8)
        Digest.appendHex(signature, to: &authorization)
        let authorizationText = String(decoding: authorization, as: UTF8.self)

        var added: [(name: String, value: String)] = [("X-Amz-Date", amzDateText)]
        if let token { added.append(("X-Amz-Security-Token", token)) }
        if addContentSHA256Header { added.append(("X-Amz-Content-SHA256", payloadHash)) }
        added.append(("Authorization", authorizationText))

        return SigningResult(
            canonicalRequest: String(decoding: canonical, as: UTF8.self),
            stringToSign: String(decoding: stringToSign, as: UTF8.self),
            signature: Digest.hex(signature),
            authorization: authorizationText,
            headers: added)
    }

    /// The canonical request and the `SignedHeaders` list, as bytes.
    private func canonicalRequest(
        _ request: SignableRequest, amzDate: String, token: String?, payloadHash: String
    ) -> (bytes: [UInt8], signedHeaders: [UInt8]) {
        var headers = CanonicalHeaders(request.headers) { name in
            // Most names are signed; the first byte settles it without comparing strings.
            switch name.utf8.first {
            case UInt8(ascii: "a"), UInt8(ascii: "e"), UInt8(ascii: "t"), UInt8(ascii: "u"),
                UInt8(ascii: "x"):
                break
            default: return true
            }
            switch name {
            case "authorization", "x-amz-date", "user-agent", "expect", "transfer-encoding",
                "x-amzn-trace-id":
                return false
            case "x-amz-security-token": return token == nil
            case "x-amz-content-sha256": return !addContentSHA256Header
            default: return true
            }
        }
        headers.add(name: "x-amz-date", value: amzDate)
        if let token, signSessionToken {
            headers.add(name: "x-amz-security-token", value: token)
        }
        if addContentSHA256Header {
            headers.add(name: "x-amz-content-sha256", value: payloadHash)
        }

        var canonical: [UInt8] = []
        // Room for the headers, and for the path and query growing threefold under encoding.
        var headerBytes = token?.utf8.count ?? 0
        for header in request.headers {
            headerBytes += header.name.utf8.count + header.value.utf8.count + 2
        }
        canonical.reserveCapacity(
            256 + headerBytes + 3 * (request.path.utf8.count + request.query.utf8.count))
        canonical.append(contentsOf: request.method.utf8)
        canonical.append(UInt8(ascii: "\n"))
        CanonicalRequest.appendURI(
            request.path, normalize: normalizePath, encode: doubleEncodePath, to: &canonical)
        canonical.append(UInt8(ascii: "\n"))
        CanonicalRequest.appendQuery(request.query, to: &canonical)
        canonical.append(UInt8(ascii: "\n"))
        var signedHeaders: [UInt8] = []
        signedHeaders.reserveCapacity(64)
        headers.append(to: &canonical, signedHeaders: &signedHeaders)
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: signedHeaders)
        canonical.append(UInt8(ascii: "\n"))
        canonical.append(contentsOf: payloadHash.utf8)
        return (canonical, signedHeaders)
    }

    /// `AWS4-HMAC-SHA256`, the date-time, the scope and the hash of the canonical request.
    private static func stringToSign(dateTime: [UInt8], scope: [UInt8], canonical: [UInt8]) -> [UInt8] {
        var stringToSign: [UInt8] = []
        stringToSign.reserveCapacity(128 + scope.count)
        stringToSign.append(contentsOf: algorithm.utf8)
        stringToSign.append(UInt8(ascii: "\n"))
        stringToSign.append(contentsOf: dateTime)
        stringToSign.append(UInt8(ascii: "\n"))
        stringToSign.append(contentsOf: scope)
        stringToSign.append(UInt8(ascii: "\n"))
        Digest.appendHex(Digest.sha256(canonical), to: &stringToSign)
        return stringToSign
    }

    /// HMAC chain from `AWS4` + secret through date, region, service and `aws4_request`.
    private func signingKey(secret: String, date: ArraySlice<UInt8>) -> [UInt8] {
        var secretKey: [UInt8] = Array("AWS4".utf8)
        secretKey.append(contentsOf: secret.utf8)
        let dateKey = Digest.hmacSHA256(key: secretKey, data: Array(date))
        let regionKey = Digest.hmacSHA256(key: dateKey, data: regionBytes)
        let serviceKey = Digest.hmacSHA256(key: regionKey, data: serviceBytes)
        return Digest.hmacSHA256(key: serviceKey, data: Self.terminator)
    }
}
