import XMPPXML

public enum VCardStoreError: Error, Equatable, Sendable {
    case backend(String)
}

/// vcard-temp vCards (XEP-0054), one per account: the whole `<vCard xmlns='vcard-temp'/>` element.
/// Implementations: `InMemoryVCardStore` (tests), SQLite (default).
public protocol VCardStore: Sendable {
    /// The account's vCard, or nil if it never stored one.
    func vCard(username: String, host: String) async throws -> XElement?
    /// Replaces the account's vCard (XEP-0054 §3.2 has no partial updates).
    func setVCard(_ vCard: XElement, username: String, host: String) async throws
    /// Returns whether a vCard was removed.
    @discardableResult
    func deleteVCard(username: String, host: String) async throws -> Bool
}
