import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// XEP-0160 offline messages: a message for an account with no session able to take it (RFC 6121
/// §8.5.2.2) is stored, stamped with a XEP-0203 delay, and delivered to the first session that
/// becomes available with a non-negative priority.
///
/// Which messages are kept is `OfflineStoragePolicy`. A full queue refuses the message, and the
/// kernel answers the sender `service-unavailable` (XEP-0160 §2, step 3); so does a message the
/// policy does not keep, as for a server without offline storage (RFC 6121 §8.5.2.2.1).
public struct OfflineModule: Module {
    public static let feature = "msgoffline"
    public static let delayNamespace = "urn:xmpp:delay"
    public static let defaultMaxMessagesPerUser = 1000
    public let name = "offline"
    private let store: any OfflineStore
    private let maxMessagesPerUser: Int
    private let now: @Sendable () -> Int64
    private let deliveryLock = OfflineDeliveryLock()
    /// Messages read from the store at a time while delivering.
    private let batchSize = 100

    /// - Parameters:
    ///   - maxMessagesPerUser: the queue size per account; messages beyond it are refused.
    ///   - now: the wall clock in milliseconds since 1970 (for the delay stamp).
    public init(store: any OfflineStore, maxMessagesPerUser: Int = OfflineModule.defaultMaxMessagesPerUser,
                now: @escaping @Sendable () -> Int64 = OfflineTimestamp.currentMilliseconds) {
        self.store = store
        self.maxMessagesPerUser = maxMessagesPerUser
        self.now = now
    }

    public func register(in registrar: ModuleRegistrar) {
        let kernel = registrar.kernel
        // XEP-0160 §4.
        registrar.advertise(feature: Self.feature)
        registrar.onUndeliverableMessage { inbound in
            await keep(inbound, kernel: kernel)
        }
        registrar.onSessionAvailable { session in
            // XEP-0160 §2 step 5: delivered when the user sends non-negative available presence; a
            // negative priority never receives messages sent to the bare JID (RFC 6121 §4.7.2.3).
            guard session.priority >= 0 else { return }
            await deliverStored(to: session, kernel: kernel)
        }
    }

    /// Removes what this module keeps for an account when the account is deleted; runs also when
    /// `modules_disabled` names the module, so no data outlives its account.
    public func registerAccountData(in registrar: ModuleRegistrar) {
        let kernel = registrar.kernel
        let store = self.store
        registrar.onAccountDeleted { user in
            do {
                try await store.removeAll(for: user)
            } catch {
                kernel.logger.error("could not remove offline messages", metadata: ["user": "\(user)", "error": "\(error)"])
            }
        }
    }

    private func keep(_ inbound: InboundStanza, kernel: Kernel) async -> Bool {
        let message = inbound.stanza.element
        guard OfflineStoragePolicy.shouldStore(message) else { return false }
        let user = inbound.to.bare
        let storedAt = now()
        let stamped = Self.stamped(message, by: user.domainpart, at: storedAt)
        do {
            guard try await store.append(stamped, for: user, storedAt: storedAt, limit: maxMessagesPerUser) != nil else {
                kernel.logger.info("offline queue full, message refused", metadata: ["user": "\(user)"])
                return false
            }
        } catch {
            kernel.logger.error("could not store an offline message", metadata: ["user": "\(user)", "error": "\(error)"])
            return false
        }
        // A session may have become available while the message was being stored, after its own
        // delivery of stored messages had run; it gets this one now instead of at its next login.
        if let session = Self.preferredSession(of: user, kernel: kernel) {
            await deliverStored(to: session, kernel: kernel)
        }
        return true
    }

    /// Delivers the user's stored messages to `session`, oldest first, and removes exactly those
    /// delivered. One delivery per user at a time, so two sessions never both get a message.
    private func deliverStored(to session: LocalSession, kernel: Kernel) async {
        let user = session.jid.bare
        await deliveryLock.withLock(user) {
            while kernel.sessions.session(for: session.jid) === session {
                let batch: [OfflineMessage]
                do {
                    batch = try await store.messages(for: user, limit: batchSize)
                } catch {
                    kernel.logger.error("could not read offline messages", metadata: ["user": "\(user)", "error": "\(error)"])
                    return
                }
                if batch.isEmpty { return }
                // Through the kernel, so delivery filters (blocking) apply.
                for message in batch { kernel.deliver(message.stanza, to: session) }
                do {
                    try await store.remove(ids: batch.map(\.id), for: user)
                } catch {
                    kernel.logger.error("could not remove delivered offline messages", metadata: ["user": "\(user)", "error": "\(error)"])
                    return
                }
                if batch.count < batchSize { return }
            }
        }
    }

    /// The available session with the highest non-negative priority (RFC 6121 §8.5.2.1.1), if any.
    private static func preferredSession(of user: JID, kernel: Kernel) -> LocalSession? {
        kernel.availableSessions(of: user)
            .map { ($0, $0.priority) }
            .filter { $0.1 >= 0 }
            .max { $0.1 < $1.1 }?.0
    }

    /// XEP-0160 §2 (RECOMMENDED): a XEP-0203 delay from the server, stamped with the time of storage.
    static func stamped(_ message: XElement, by host: String, at milliseconds: Int64) -> XElement {
        var delay = XElement("delay", namespace: delayNamespace, ["from": host, "stamp": OfflineTimestamp.format(milliseconds: milliseconds)])
        delay.append(text: "Offline Storage")
        return message.appending(delay)
    }
}
