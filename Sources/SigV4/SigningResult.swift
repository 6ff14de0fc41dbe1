/// What signing produced: the headers to add, and every intermediate step so tests can check
/// each one against the published vectors.
public struct SigningResult: Sendable {
    /// The canonical request (step 1), as hashed.
    public var canonicalRequest: String
    /// The string to sign (step 2).
    public var stringToSign: String
    /// The signature, 64 lowercase hex characters (step 3).
    public var signature: String
    /// The value of the `Authorization` header.
    public var authorization: String
    /// Headers to add to the request, replacing any of the same name: `X-Amz-Date`,
    /// `X-Amz-Security-Token` (when the credentials carry a session token),
    /// `X-Amz-Content-SHA256` (when the signer was asked to add it), and `Authorization`.
    public var headers: [(name: String, value: String)]
}
