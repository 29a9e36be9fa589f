import ParleyStorage
import Testing
import XMPPXML

/// The `VCardStore` contract, on every backend.
@Suite("VCardStore conformance")
struct VCardStoreConformanceTests {
    private static let ns = "vcard-temp"

    @Test(arguments: StoreBackend.allCases)
    func missingIsNil(_ backend: StoreBackend) async throws {
        try await backend.withVCardStore { store throws in
            #expect(try await store.vCard(username: "alice", host: "example.com") == nil)
            #expect(try await store.deleteVCard(username: "alice", host: "example.com") == false)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func storesExactlyWhatWasSet(_ backend: StoreBackend) async throws {
        try await backend.withVCardStore { store throws in
            let vCard = richStoredElement("vCard", namespace: Self.ns)
            try await store.setVCard(vCard, username: "alice", host: "example.com")
            #expect(try await store.vCard(username: "alice", host: "example.com") == vCard)
            // An empty vCard is a vCard too.
            let empty = XElement("vCard", namespace: Self.ns)
            try await store.setVCard(empty, username: "bob", host: "example.com")
            #expect(try await store.vCard(username: "bob", host: "example.com") == empty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func setReplacesTheWholeVCard(_ backend: StoreBackend) async throws {
        try await backend.withVCardStore { store throws in
            try await store.setVCard(richStoredElement("vCard", namespace: Self.ns, marker: "one"), username: "alice", host: "example.com")
            let second = XElement("vCard", namespace: Self.ns, children: [.element(XElement("NICKNAME", namespace: Self.ns, children: [.text("al")]))])
            try await store.setVCard(second, username: "alice", host: "example.com")
            #expect(try await store.vCard(username: "alice", host: "example.com") == second)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func accountsAreSeparatePerHost(_ backend: StoreBackend) async throws {
        try await backend.withVCardStore { store throws in
            let com = richStoredElement("vCard", namespace: Self.ns, marker: "com")
            let org = richStoredElement("vCard", namespace: Self.ns, marker: "org")
            try await store.setVCard(com, username: "alice", host: "example.com")
            try await store.setVCard(org, username: "alice", host: "example.org")
            #expect(try await store.vCard(username: "alice", host: "example.com") == com)
            #expect(try await store.vCard(username: "alice", host: "example.org") == org)
            #expect(try await store.vCard(username: "Alice", host: "example.com") == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func deleteRemovesOnlyThatAccount(_ backend: StoreBackend) async throws {
        try await backend.withVCardStore { store throws in
            let vCard = richStoredElement("vCard", namespace: Self.ns)
            try await store.setVCard(vCard, username: "alice", host: "example.com")
            try await store.setVCard(vCard, username: "bob", host: "example.com")
            #expect(try await store.deleteVCard(username: "alice", host: "example.com") == true)
            #expect(try await store.deleteVCard(username: "alice", host: "example.com") == false)
            #expect(try await store.vCard(username: "alice", host: "example.com") == nil)
            #expect(try await store.vCard(username: "bob", host: "example.com") == vCard)
        }
    }
}
