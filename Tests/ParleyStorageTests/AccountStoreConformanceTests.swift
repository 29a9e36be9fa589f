import Testing

@Suite("AccountStore conformance")
struct AccountStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func createAndGet(_ backend: StoreBackend) async throws {
        try await backend.withAccountStore(AccountStoreConformance.createAndGet)
    }

    @Test(arguments: StoreBackend.allCases)
    func duplicateCreateFails(_ backend: StoreBackend) async throws {
        try await backend.withAccountStore(AccountStoreConformance.duplicateCreateFails)
    }

    @Test(arguments: StoreBackend.allCases)
    func setCredentials(_ backend: StoreBackend) async throws {
        try await backend.withAccountStore(AccountStoreConformance.setCredentials)
    }

    @Test(arguments: StoreBackend.allCases)
    func delete(_ backend: StoreBackend) async throws {
        try await backend.withAccountStore(AccountStoreConformance.delete)
    }

    @Test(arguments: StoreBackend.allCases)
    func usernamesSortedPerHost(_ backend: StoreBackend) async throws {
        try await backend.withAccountStore(AccountStoreConformance.usernamesSortedPerHost)
    }

    @Test(arguments: StoreBackend.allCases)
    func createManySkipsExisting(_ backend: StoreBackend) async throws {
        try await backend.withAccountStore(AccountStoreConformance.createManySkipsExisting)
    }

    @Test(arguments: StoreBackend.allCases)
    func credentialsRoundTripByteExact(_ backend: StoreBackend) async throws {
        try await backend.withAccountStore(AccountStoreConformance.credentialsRoundTripByteExact)
    }
}
