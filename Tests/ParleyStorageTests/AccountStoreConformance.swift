import ParleyStorage
import Testing
import XMPPSASL

/// The `AccountStore` contract, written once against the protocol. `AccountStoreConformanceTests`
/// runs every check on every backend; a new backend only adds a case to `StoreBackend`.
///
/// Credential order is not part of the contract (SQLite returns them in `SCRAMHash.allCases` order),
/// so credentials are compared as sets.
enum AccountStoreConformance {
    static func createAndGet(_ store: any AccountStore) async throws {
        let alice = Fixtures.account("alice", "example.com", hashes: SCRAMHash.allCases, createdAt: 1_700_000_000)
        try await store.create(alice)

        expectSame(try await store.account(username: "alice", host: "example.com"), alice)
        #expect(try await store.account(username: "bob", host: "example.com") == nil)
        #expect(try await store.account(username: "alice", host: "example.org") == nil)
        // Keys are exact strings: the caller normalises (PRECIS), the store does not case-fold.
        #expect(try await store.account(username: "Alice", host: "example.com") == nil)

        #expect(try await store.exists(username: "alice", host: "example.com"))
        #expect(try await !store.exists(username: "bob", host: "example.com"))
        #expect(try await !store.exists(username: "alice", host: "example.org"))
        #expect(try await !store.exists(username: "Alice", host: "example.com"))
    }

    static func duplicateCreateFails(_ store: any AccountStore) async throws {
        let original = Fixtures.account("alice", "example.com", hashes: [.sha256], createdAt: 10)
        try await store.create(original)

        let again = Fixtures.account("alice", "example.com", hashes: [.sha1, .sha512], seed: 99, createdAt: 20)
        await #expect(throws: AccountStoreError.alreadyExists) { try await store.create(again) }
        expectSame(try await store.account(username: "alice", host: "example.com"), original)

        // The same username on another host is another account.
        try await store.create(Fixtures.account("alice", "example.org", hashes: [.sha1], createdAt: 30))
    }

    static func setCredentials(_ store: any AccountStore) async throws {
        await #expect(throws: AccountStoreError.notFound) {
            try await store.setCredentials(
                username: "ghost", host: "example.com", credentials: Fixtures.credentials([.sha256], seed: 1))
        }
        #expect(try await store.account(username: "ghost", host: "example.com") == nil)

        let alice = Fixtures.account("alice", "example.com", hashes: SCRAMHash.allCases, createdAt: 42)
        try await store.create(alice)

        let changed = Fixtures.credentials([.sha256], seed: 7)
        try await store.setCredentials(username: "alice", host: "example.com", credentials: changed)
        var expected = alice
        expected.credentials = changed
        expectSame(try await store.account(username: "alice", host: "example.com"), expected)

        let again = Fixtures.credentials([.sha512, .sha1], seed: 8)
        try await store.setCredentials(username: "alice", host: "example.com", credentials: again)
        expected.credentials = again
        expectSame(try await store.account(username: "alice", host: "example.com"), expected)

        try await store.setCredentials(username: "alice", host: "example.com", credentials: [])
        expected.credentials = []
        expectSame(try await store.account(username: "alice", host: "example.com"), expected)

        // Same username, other host: not found.
        await #expect(throws: AccountStoreError.notFound) {
            try await store.setCredentials(username: "alice", host: "example.org", credentials: changed)
        }
    }

    static func delete(_ store: any AccountStore) async throws {
        try await store.create(Fixtures.account("alice", "example.com", hashes: SCRAMHash.allCases))
        try await store.create(Fixtures.account("alice", "example.org", hashes: [.sha1]))

        #expect(try await store.delete(username: "alice", host: "example.com") == true)
        #expect(try await store.delete(username: "alice", host: "example.com") == false)
        #expect(try await store.delete(username: "nobody", host: "example.com") == false)
        #expect(try await store.account(username: "alice", host: "example.com") == nil)
        #expect(try await store.account(username: "alice", host: "example.org") != nil)
        #expect(try await !store.exists(username: "alice", host: "example.com"), "gone once deleted")
        #expect(try await store.exists(username: "alice", host: "example.org"))

        // Re-creating the name starts clean: no credential of the deleted account survives.
        let reborn = Fixtures.account("alice", "example.com", hashes: [.sha512], seed: 5, createdAt: 99)
        try await store.create(reborn)
        expectSame(try await store.account(username: "alice", host: "example.com"), reborn)
    }

    static func usernamesSortedPerHost(_ store: any AccountStore) async throws {
        for name in ["zoë", "bob", "alice", "émile", "carol", "alice2"] {
            try await store.create(Fixtures.account(name, "example.com", hashes: [.sha256]))
        }
        for name in ["mallory", "alice"] {
            try await store.create(Fixtures.account(name, "example.org", hashes: [.sha256]))
        }

        let expected = ["zoë", "bob", "alice", "émile", "carol", "alice2"].sorted()
        #expect(try await store.usernames(host: "example.com") == expected)
        #expect(try await store.usernames(host: "example.org") == ["alice", "mallory"])
        #expect(try await store.usernames(host: "example.net") == [])

        try await store.delete(username: "bob", host: "example.com")
        #expect(try await store.usernames(host: "example.com") == expected.filter { $0 != "bob" })
    }

    static func createManySkipsExisting(_ store: any AccountStore) async throws {
        #expect(try await store.createMany([]) == 0)

        let existing = Fixtures.account("bob", "example.com", hashes: [.sha1], seed: 1, createdAt: 1)
        try await store.create(existing)

        let batch = [
            Fixtures.account("alice", "example.com", hashes: SCRAMHash.allCases, seed: 2, createdAt: 2),
            Fixtures.account("bob", "example.com", hashes: SCRAMHash.allCases, seed: 3, createdAt: 3),  // exists
            Fixtures.account("bob", "example.org", hashes: [.sha256], seed: 4, createdAt: 4),
            Fixtures.account("carol", "example.com", hashes: [.sha512], seed: 5, createdAt: 5),
            Fixtures.account("carol", "example.com", hashes: [.sha1], seed: 6, createdAt: 6),  // duplicate in batch
        ]
        #expect(try await store.createMany(batch) == 3)

        expectSame(try await store.account(username: "bob", host: "example.com"), existing)
        expectSame(try await store.account(username: "alice", host: "example.com"), batch[0])
        expectSame(try await store.account(username: "bob", host: "example.org"), batch[2])
        expectSame(try await store.account(username: "carol", host: "example.com"), batch[3])
        #expect(try await store.usernames(host: "example.com") == ["alice", "bob", "carol"])

        // The same batch again creates nothing.
        #expect(try await store.createMany(batch) == 0)

        // An import of a few thousand users.
        let many = (0..<3000).map { Fixtures.account("user\($0)", "import.example", hashes: [.sha256], seed: $0) }
        #expect(try await store.createMany(many) == 3000)
        #expect(try await store.usernames(host: "import.example").count == 3000)
        expectSame(try await store.account(username: "user2999", host: "import.example"), many[2999])
    }

    static func credentialsRoundTripByteExact(_ store: any AccountStore) async throws {
        // Every byte value, the real key lengths of each hash, iteration counts beyond 32 bits.
        let allBytes = (0...255).map { UInt8($0) }
        let credentials = [
            SCRAMCredential(
                hash: .sha1, salt: allBytes, iterations: 4096,
                storedKey: Fixtures.bytes(20, seed: 11), serverKey: Fixtures.bytes(20, seed: 12)),
            SCRAMCredential(
                hash: .sha256, salt: [0, 0, 0], iterations: 1,
                storedKey: Fixtures.bytes(32, seed: 21), serverKey: [UInt8](repeating: 0, count: 32)),
            SCRAMCredential(
                hash: .sha512, salt: [0xFF], iterations: Int(UInt32.max) + 7,
                storedKey: Fixtures.bytes(64, seed: 31), serverKey: allBytes.reversed()),
        ]
        let account = AccountRecord(username: "bytes", host: "example.com", credentials: credentials, createdAt: -1)
        try await store.create(account)

        let loaded = try #require(try await store.account(username: "bytes", host: "example.com"))
        expectSame(loaded, account)
        for original in credentials {
            let stored = try #require(loaded.credential(for: original.hash))
            #expect(stored.salt == original.salt)
            #expect(stored.iterations == original.iterations)
            #expect(stored.storedKey == original.storedKey)
            #expect(stored.serverKey == original.serverKey)
        }

        // Empty byte strings stay empty (not missing, not NULL), through setCredentials and createMany too.
        let empty = [SCRAMCredential(hash: .sha256, salt: [], iterations: 0, storedKey: [], serverKey: [])]
        try await store.setCredentials(username: "bytes", host: "example.com", credentials: empty)
        #expect(try await store.account(username: "bytes", host: "example.com")?.credentials == empty)
        let imported = AccountRecord(username: "empty", host: "example.com", credentials: empty, createdAt: 0)
        #expect(try await store.createMany([imported]) == 1)
        #expect(try await store.account(username: "empty", host: "example.com")?.credentials == empty)
    }

    /// Field by field, credentials as a set.
    static func expectSame(
        _ actual: AccountRecord?, _ expected: AccountRecord, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let actual else {
            Issue.record("no account \(expected.username)@\(expected.host)", sourceLocation: sourceLocation)
            return
        }
        #expect(actual.username == expected.username, sourceLocation: sourceLocation)
        #expect(actual.host == expected.host, sourceLocation: sourceLocation)
        #expect(actual.createdAt == expected.createdAt, sourceLocation: sourceLocation)
        #expect(actual.credentials.count == expected.credentials.count, sourceLocation: sourceLocation)
        #expect(Set(actual.credentials) == Set(expected.credentials), sourceLocation: sourceLocation)
    }
}

enum Fixtures {
    static func account(
        _ username: String, _ host: String, hashes: [SCRAMHash], seed: Int = 0, createdAt: Int64 = 1_700_000_000
    ) -> AccountRecord {
        AccountRecord(username: username, host: host, credentials: credentials(hashes, seed: seed), createdAt: createdAt)
    }

    static func credentials(_ hashes: [SCRAMHash], seed: Int) -> [SCRAMCredential] {
        hashes.enumerated().map { index, hash in
            let length = switch hash {
            case .sha1: 20
            case .sha256: 32
            case .sha512: 64
            }
            let s = seed &* 31 &+ index &* 7
            return SCRAMCredential(
                hash: hash, salt: bytes(16, seed: s), iterations: 4096 + seed,
                storedKey: bytes(length, seed: s &+ 1), serverKey: bytes(length, seed: s &+ 2))
        }
    }

    /// Deterministic bytes covering the whole 0...255 range.
    static func bytes(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ seed &* 151 &+ 17) }
    }
}
