import ParleyStorage
import Testing

/// The `LastActivityStore` contract, on every backend.
@Suite("LastActivityStore conformance")
struct LastActivityStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func missingIsNil(_ backend: StoreBackend) async throws {
        try await backend.withLastActivityStore { store throws in
            #expect(try await store.lastActivity(username: "alice", host: "example.com") == nil)
            #expect(try await store.deleteLastActivity(username: "alice", host: "example.com") == false)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func setReplacesTheRecord(_ backend: StoreBackend) async throws {
        try await backend.withLastActivityStore { store throws in
            let first = LastActivityRecord(timestamp: 1_700_000_000, status: "Heading Home <&> 🏠")
            try await store.setLastActivity(first, username: "alice", host: "example.com")
            #expect(try await store.lastActivity(username: "alice", host: "example.com") == first)
            let second = LastActivityRecord(timestamp: 1_700_000_900, status: "")
            try await store.setLastActivity(second, username: "alice", host: "example.com")
            #expect(try await store.lastActivity(username: "alice", host: "example.com") == second)
            // The whole Int64 range survives.
            for timestamp in [Int64.min, -1, 0, Int64.max] {
                let record = LastActivityRecord(timestamp: timestamp, status: "s")
                try await store.setLastActivity(record, username: "edge", host: "example.com")
                #expect(try await store.lastActivity(username: "edge", host: "example.com") == record)
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func accountsAreSeparateAndDeletedAlone(_ backend: StoreBackend) async throws {
        try await backend.withLastActivityStore { store throws in
            let a = LastActivityRecord(timestamp: 1, status: "a")
            let b = LastActivityRecord(timestamp: 2, status: "b")
            let c = LastActivityRecord(timestamp: 3, status: "c")
            try await store.setLastActivity(a, username: "alice", host: "example.com")
            try await store.setLastActivity(b, username: "bob", host: "example.com")
            try await store.setLastActivity(c, username: "alice", host: "example.org")
            #expect(try await store.deleteLastActivity(username: "alice", host: "example.com") == true)
            #expect(try await store.lastActivity(username: "alice", host: "example.com") == nil)
            #expect(try await store.lastActivity(username: "bob", host: "example.com") == b)
            #expect(try await store.lastActivity(username: "alice", host: "example.org") == c)
        }
    }
}
