import Testing

@Suite("AccountStore conformance")
struct AccountStoreConformanceTests {
    @Test(arguments: AccountStoreBackend.allCases)
    func createAndGet(_ backend: AccountStoreBackend) async throws {
        try await backend.withStore(AccountStoreConformance.createAndGet)
    }

    @Test(arguments: AccountStoreBackend.allCases)
    func duplicateCreateFails(_ backend: AccountStoreBackend) async throws {
        try await backend.withStore(AccountStoreConformance.duplicateCreateFails)
    }

    @Test(arguments: AccountStoreBackend.allCases)
    func setCredentials(_ backend: AccountStoreBackend) async throws {
        try await backend.withStore(AccountStoreConformance.setCredentials)
    }

    @Test(arguments: AccountStoreBackend.allCases)
    func delete(_ backend: AccountStoreBackend) async throws {
        try await backend.withStore(AccountStoreConformance.delete)
    }

    @Test(arguments: AccountStoreBackend.allCases)
    func usernamesSortedPerHost(_ backend: AccountStoreBackend) async throws {
        try await backend.withStore(AccountStoreConformance.usernamesSortedPerHost)
    }

    @Test(arguments: AccountStoreBackend.allCases)
    func createManySkipsExisting(_ backend: AccountStoreBackend) async throws {
        try await backend.withStore(AccountStoreConformance.createManySkipsExisting)
    }

    @Test(arguments: AccountStoreBackend.allCases)
    func credentialsRoundTripByteExact(_ backend: AccountStoreBackend) async throws {
        try await backend.withStore(AccountStoreConformance.credentialsRoundTripByteExact)
    }
}
