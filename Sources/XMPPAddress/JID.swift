/// Why a string or its parts are not a valid JID (RFC 7622).
public enum JIDError: Error, Hashable, Sendable {
    case empty
    case emptyLocalpart
    case emptyDomainpart
    case emptyResourcepart
    case localpartTooLong
    case domainpartTooLong
    case resourcepartTooLong
    case invalidLocalpart
    case invalidDomainpart
    case invalidResourcepart
}

/// An XMPP address, `[localpart@]domainpart[/resourcepart]` (RFC 7622).
///
/// All parts are stored in their normalised (enforced) form, so `==` and hashing compare
/// addresses: the localpart with PRECIS UsernameCaseMapped (§3.3), the domainpart
/// lowercased and NFC (§3.2), the resourcepart with PRECIS OpaqueString (§3.4).
public struct JID: Hashable, Sendable, CustomStringConvertible {
    public let localpart: String?
    public let domainpart: String
    public let resourcepart: String?

    /// RFC 7622 §3.1: at most 1023 octets per part (after enforcement).
    static let maxPartBytes = 1023
    /// Raw parts longer than this cannot shrink to 1023 octets (mapping/NFC shrink at most 3x).
    static let maxRawPartBytes = 4 * maxPartBytes

    /// Parses and normalises a JID string.
    ///
    /// RFC 7622 §3.2 split: everything after the first '/' is the resourcepart; in what is
    /// left, everything before the first '@' is the localpart; the rest is the domainpart.
    public init(_ string: String) throws(JIDError) {
        if string.isEmpty { throw .empty }
        // One pass over the UTF-8 bytes; '/' and '@' are ASCII, so the cuts fall on scalar
        // boundaries (String subscripts would round to Character boundaries, e.g. "/" + U+0301).
        var copy = string
        let (rawLocal, rawDomain, rawResource) = copy.withUTF8 { buf -> (String?, String, String?) in
            var at = -1
            var slash = -1
            for i in 0..<buf.count {
                let b = buf[i]
                if b == UInt8(ascii: "/") { slash = i; break }
                if b == UInt8(ascii: "@") && at < 0 { at = i }
            }
            let domainEnd = slash < 0 ? buf.count : slash
            let local = at < 0 ? nil : String(decoding: UnsafeBufferPointer(rebasing: buf[0..<at]), as: UTF8.self)
            let domain = at < 0 && slash < 0 ? string
                : String(decoding: UnsafeBufferPointer(rebasing: buf[(at + 1)..<domainEnd]), as: UTF8.self)
            let resource = slash < 0 ? nil
                : String(decoding: UnsafeBufferPointer(rebasing: buf[(slash + 1)...]), as: UTF8.self)
            return (local, domain, resource)
        }
        let local = try rawLocal.map { (s) throws(JIDError) in try JID.normalizeLocalpart(s) }
        let domain = try Domainpart.normalize(rawDomain)
        let resource = try rawResource.map { (s) throws(JIDError) in try JID.normalizeResourcepart(s) }
        self.init(unchecked: local, domain, resource)
    }

    /// Builds a JID from separate parts, normalising each. `nil` means the part is absent;
    /// an empty string is an error.
    public init(localpart: String?, domainpart: String, resourcepart: String?) throws(JIDError) {
        let local = try localpart.map { (s) throws(JIDError) in try JID.normalizeLocalpart(s) }
        let domain = try Domainpart.normalize(domainpart)
        let resource = try resourcepart.map { (s) throws(JIDError) in try JID.normalizeResourcepart(s) }
        self.init(unchecked: local, domain, resource)
    }

    /// Parts must already be normalised.
    init(unchecked localpart: String?, _ domainpart: String, _ resourcepart: String?) {
        self.localpart = localpart
        self.domainpart = domainpart
        self.resourcepart = resourcepart
    }

    /// The bare JID (RFC 6120 §1.4): this address without its resourcepart.
    public var bare: JID {
        resourcepart == nil ? self : JID(unchecked: localpart, domainpart, nil)
    }

    public var isBare: Bool { resourcepart == nil }

    /// This address with its resourcepart replaced (normalised) or removed (`nil`).
    public func with(resource: String?) throws(JIDError) -> JID {
        let r = try resource.map { (s) throws(JIDError) in try JID.normalizeResourcepart(s) }
        return JID(unchecked: localpart, domainpart, r)
    }

    /// The canonical string form.
    public var description: String {
        var s = ""
        s.reserveCapacity((localpart?.utf8.count ?? -1) + 1 + domainpart.utf8.count
                          + (resourcepart?.utf8.count ?? -1) + 1)
        if let localpart {
            s += localpart
            s += "@"
        }
        s += domainpart
        if let resourcepart {
            s += "/"
            s += resourcepart
        }
        return s
    }

    // MARK: Part enforcement

    /// RFC 7622 §3.3: UsernameCaseMapped, minus the characters §3.3.1 excludes.
    static func normalizeLocalpart(_ s: String) throws(JIDError) -> String {
        if s.isEmpty { throw .emptyLocalpart }
        if s.utf8.count > maxRawPartBytes { throw .localpartTooLong }
        let out: String
        do {
            out = try PRECIS.enforceUsernameCaseMapped(s, jidLocalpart: true)
        } catch .empty {
            throw .emptyLocalpart
        } catch {
            throw .invalidLocalpart
        }
        if out.utf8.count > maxPartBytes { throw .localpartTooLong }
        return out
    }

    /// RFC 7622 §3.4: OpaqueString.
    static func normalizeResourcepart(_ s: String) throws(JIDError) -> String {
        if s.isEmpty { throw .emptyResourcepart }
        if s.utf8.count > maxRawPartBytes { throw .resourcepartTooLong }
        let out: String
        do {
            out = try PRECIS.opaqueString(s)
        } catch .empty {
            throw .emptyResourcepart
        } catch {
            throw .invalidResourcepart
        }
        if out.utf8.count > maxPartBytes { throw .resourcepartTooLong }
        return out
    }
}
