import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPXML

/// Roster get and set (RFC 6121 §2), with versioning (§2.6).
struct RosterIQHandler: Sendable {
    let context: RosterContext

    func handle(_ request: IQRequest) async -> Result<XElement?, StanzaError> {
        // §2.1.5, §2.3.3: only the account's own resources may read or change its roster.
        guard request.to == request.from.bare, context.kernel.isLocal(request.from) else {
            return .failure(StanzaError(.forbidden, text: "that is not your roster"))
        }
        do {
            return request.isSet ? try await set(request) : try await get(request)
        } catch let error as StanzaError {
            return .failure(error)
        } catch {
            context.logStoreFailure(error, "roster IQ", user: request.to)
            return .failure(StanzaError(.internalServerError))
        }
    }

    /// §2.1.3, §2.6.2: the roster, or an empty result when the client's cached version is current.
    private func get(_ request: IQRequest) async throws -> Result<XElement?, StanzaError> {
        let user = request.to
        // §2.1.6: a resource that asked for the roster is "interested" and gets pushes from now on.
        context.kernel.sessions.session(for: request.from)?.update { $0.interestedInRoster = true }
        let roster = try await context.store.roster(of: user)
        // §2.6.3: same version → empty result; the pushes that follow bring any later change.
        if let cached = request.payload[attribute: "ver"], cached == String(roster.version) {
            return .success(nil)
        }
        let items = roster.items.map { RosterXML.element(for: $0, contact: $0.jid) }
        return .success(RosterXML.query(items: items, version: roster.version))
    }

    private func set(_ request: IQRequest) async throws -> Result<XElement?, StanzaError> {
        let user = request.to
        let parsed = try RosterSetRequest.parse(
            request.payload, user: user,
            maxNameBytes: context.options.maxNameBytes, maxGroupBytes: context.options.maxGroupBytes)
        switch parsed.action {
        case .update(let name, let groups):
            let change = try await context.store.update(user: user, contact: parsed.contact) { entry in
                var item = entry.item ?? RosterItem(jid: entry.contact)
                item.name = name
                item.groups = groups
                entry.item = item
            }
            // §2.3.2, §2.4.2: every interested resource gets a push, the one that asked included.
            context.push(RosterXML.element(for: change.after.item, contact: parsed.contact), version: change.version, to: user)
            return .success(nil)
        case .remove:
            return try await remove(parsed.contact, user: user)
        }
    }

    /// §2.5.2: cancel the subscriptions both ways, then push the removal.
    private func remove(_ contact: JID, user: JID) async throws -> Result<XElement?, StanzaError> {
        let change = try await context.store.update(user: user, contact: contact) { entry -> Bool in
            guard entry.item != nil else { return false }
            entry.item = nil
            entry.pendingIn = nil
            return true
        }
        // §2.5.3: removing an item that is not there.
        guard change.result else { return .failure(StanzaError(.itemNotFound)) }
        let state = SubscriptionState(change.before)
        if state.subscription.hasTo || state.pendingOut {
            await context.dispatch(RosterContext.presence(type: "unsubscribe"), from: user, to: contact)
        }
        if state.subscription.hasFrom || state.pendingIn {
            await context.dispatch(RosterContext.presence(type: "unsubscribed"), from: user, to: contact)
            // §3.2.2: a cancelled subscriber is told the user is gone.
            if state.subscription.hasFrom { await context.sendUnavailable(of: user, to: contact) }
        }
        context.push(RosterXML.element(for: nil, contact: contact), version: change.version, to: user)
        return .success(nil)
    }
}
