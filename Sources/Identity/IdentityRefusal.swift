// Why a token or a launch from an identity provider or an LMS was not accepted: one case per rule, each with a
// sentence a person (the one signing in, or the admin reading the log) can act on. The platform shows it on a page
// and writes nothing.
import Foundation

public enum IdentityRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case algorithmNotAllowed(String?)
    case missingKeyID
    case unknownKeyID(String)
    case keyDoesNotFit(String)
    case badSignature
    case wrongIssuer(String)
    case wrongAudience
    case wrongAuthorizedParty
    case expired
    case issuedInTheFuture
    case missingClaim(String)
    case nonceMismatch
    case keySetUnavailable(String)
    case unsupportedMessageType(String)
    case wrongVersion(String)
    case unknownDeployment(String)

    public var description: String {
        switch self {
        case .malformed(let what): "The sign-in token is not a well-formed JWT (\(what))."
        case .algorithmNotAllowed(let alg): "The sign-in token is signed with \(alg.map { "“\($0)”" } ?? "no algorithm"), which is not accepted (RS256, RS384, RS512, PS256, ES256 or ES384 are)."
        case .missingKeyID: "The sign-in token does not name its signing key (no “kid” in its header)."
        case .unknownKeyID(let kid): "The sign-in token is signed with key “\(kid)”, which the provider's key set does not publish."
        case .keyDoesNotFit(let why): "The provider's key for this token does not fit it: \(why)."
        case .badSignature: "The sign-in token's signature does not verify against the provider's key."
        case .wrongIssuer(let issuer): "The sign-in token was issued by “\(issuer)”, not by the registered provider."
        case .wrongAudience: "The sign-in token is not meant for this platform (its audience is not, or not only, this platform's client id)."
        case .wrongAuthorizedParty: "The sign-in token was issued to another party (its “azp” is not this platform's client id)."
        case .expired: "The sign-in token has expired; start again from the beginning."
        case .issuedInTheFuture: "The sign-in token says it was issued in the future; check that the provider's clock and this server's agree."
        case .missingClaim(let claim): "The sign-in token lacks “\(claim)”, which it must carry."
        case .nonceMismatch: "The sign-in token does not answer this sign-in (its nonce differs): it may be replayed; start again."
        case .keySetUnavailable(let why): "The provider's key set could not be read (\(why)); try again in a minute."
        case .unsupportedMessageType(let type): "The LMS sent a “\(type)” message, which this tool does not handle (it handles resource link launches and deep linking)."
        case .wrongVersion(let version): "The LMS sent an LTI \(version.isEmpty ? "message without a version" : "\(version) message"); this tool speaks LTI 1.3.0."
        case .unknownDeployment(let id): "The LMS's deployment “\(id)” is not registered here; an administrator adds it on the LTI page."
        }
    }
}
