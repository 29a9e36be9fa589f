import XMPPXML

public enum PrivateXMLStoreError: Error, Equatable, Sendable {
    case backend(String)
}

/// Private XML storage (XEP-0049): per account, one element per (name, namespace) of its root.
/// Implementations: `InMemoryPrivateXMLStore` (tests), SQLite (default).
public protocol PrivateXMLStore: Sendable {
    /// The element stored under this name and namespace, or nil.
    func element(name: String, namespace: String, username: String, host: String) async throws -> XElement?
    /// Stores each element under its own name and namespace, replacing what was there, all or nothing.
    /// When two elements share a key, the later one wins.
    func store(_ elements: [XElement], username: String, host: String) async throws
    /// Removes everything the account stored (account deletion).
    func deleteAll(username: String, host: String) async throws
}
