import ParleyKernel
import XMPPAddress
import XMPPProtocol
import XMPPXML

extension BlockingModule {
    /// XEP-0191 §3.2: the list; the asking client now gets pushes.
    func blocklist(_ request: IQRequest, kernel: Kernel) async -> Result<XElement?, StanzaError> {
        guard request.to == request.from.bare else { return .failure(StanzaError(.forbidden)) }
        kernel.sessions.session(for: request.from)?.update { $0.flags.insert(Self.flag) }
        let user = request.to
        guard let list = await list(of: user, kernel: kernel) else { return .failure(StanzaError(.internalServerError)) }
        return .success(Self.payload("blocklist", list.jids.sorted { $0.description < $1.description }))
    }

    /// XEP-0191 §3.3.
    func block(_ request: IQRequest, kernel: Kernel) async -> Result<XElement?, StanzaError> {
        guard request.to == request.from.bare else { return .failure(StanzaError(.forbidden)) }
        let user = request.to
        let jids: [JID]
        switch Self.items(of: request.payload) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): jids = parsed
        }
        // §3.3: a block without an item is a bad request.
        guard !jids.isEmpty else { return .failure(StanzaError(.badRequest, text: "block at least one JID")) }
        guard let current = await list(of: user, kernel: kernel) else { return .failure(StanzaError(.internalServerError)) }
        if current.jids.union(jids).count > maxItems {
            return .failure(StanzaError(.policyViolation, text: "a blocklist holds at most \(maxItems) JIDs"))
        }
        owners.mayHaveList(user)
        guard await updateList(of: user, kernel: kernel, { try await store.block(jids, for: user) }) != nil else {
            return .failure(StanzaError(.internalServerError))
        }
        await announceBlocked(jids, by: user, kernel: kernel)
        await push(Self.payload("block", jids), to: user, kernel: kernel)
        return .success(nil)
    }

    /// XEP-0191 §3.4, §3.5: unblock the items given, or everything when none are.
    func unblock(_ request: IQRequest, kernel: Kernel) async -> Result<XElement?, StanzaError> {
        guard request.to == request.from.bare else { return .failure(StanzaError(.forbidden)) }
        let user = request.to
        let jids: [JID]
        switch Self.items(of: request.payload) {
        case .failure(let error): return .failure(error)
        case .success(let parsed): jids = parsed
        }
        let store = self.store
        let changed = await updateList(of: user, kernel: kernel) { () async throws -> [JID] in
            guard jids.isEmpty else {
                try await store.unblock(jids, for: user)
                return jids
            }
            let everything = try await store.blockedJIDs(of: user)
            try await store.unblockAll(for: user)
            return everything
        }
        guard let unblocked = changed else { return .failure(StanzaError(.internalServerError)) }
        await announceUnblocked(unblocked, by: user, kernel: kernel)
        await push(Self.payload("unblock", jids), to: user, kernel: kernel)
        return .success(nil)
    }

    /// Runs a change to the stored list, then refreshes the cached copy; nil (and a log line) when
    /// the store failed, so nothing is announced for a change that did not happen.
    private func updateList<T>(of user: JID, kernel: Kernel, _ change: () async throws -> T) async -> T? {
        do {
            let result = try await change()
            cache.invalidate(user)
            await reload(user, kernel: kernel)
            return result
        } catch {
            kernel.logger.error("could not update a blocklist", metadata: ["user": "\(user)", "error": "\(error)"])
            return nil
        }
    }

    /// The JIDs of the payload's `<item/>`s, normalised: `bad-request` for an item without a JID,
    /// `jid-malformed` for one that is not a JID (RFC 6120 §8.3.3.8).
    static func items(of payload: XElement) -> Result<[JID], StanzaError> {
        var jids: [JID] = []
        for item in payload.elements where item.name == "item" && item.namespace == namespace {
            guard let value = item[attribute: "jid"] else {
                return .failure(StanzaError(.badRequest, text: "an item needs a 'jid'"))
            }
            guard let jid = try? JID(value) else {
                return .failure(StanzaError(.jidMalformed, text: "'\(value)' is not a JID"))
            }
            if !jids.contains(jid) { jids.append(jid) }
        }
        return .success(jids)
    }

    static func payload(_ name: String, _ jids: [JID]) -> XElement {
        XElement(name, namespace: namespace, children: jids.map { .element(XElement("item", namespace: namespace, ["jid": $0.description])) })
    }

    /// XEP-0191 §3.3–§3.5: the change, as an IQ set, to every client of the user that retrieved the list.
    func push(_ payload: XElement, to user: JID, kernel: Kernel) async {
        for session in kernel.sessions.sessions(for: user) where session.has(flag: Self.flag) {
            let iq = XElement("iq", namespace: NS.client,
                              ["type": "set", "id": "push-" + RandomID.make(length: 12),
                               "from": user.description, "to": session.jid.description],
                              children: [.element(payload)])
            await kernel.send(iq)
        }
    }
}
