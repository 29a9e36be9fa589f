import ParleyKernel
import ParleyStorage
import XMPPAddress
import XMPPProtocol
import XMPPSASL
import XMPPXML

/// XEP-0077 for logged-in users: change the password, or remove the account (§3.2, §3.3).
/// Registration before login is part of stream negotiation (`C2SStateMachine`).
public struct RegistrationModule: Module {
    public let name = "register"
    private let scramIterations: Int

    public init(scramIterations: Int) {
        self.scramIterations = scramIterations
    }

    public func register(in registrar: ModuleRegistrar) {
        let kernel = registrar.kernel
        let iterations = scramIterations
        registrar.advertise(feature: NS.register)
        registrar.handleIQ("query", namespace: NS.register, types: [.get], target: .account) { request in
            guard request.to == request.from.bare, let username = request.from.localpart else {
                return .failure(StanzaError(.forbidden))
            }
            // XEP-0077 §3.1: an already registered entity gets <registered/> and its current username.
            var query = XElement("query", namespace: NS.register)
            query.append(XElement("registered", namespace: NS.register))
            query.append(XElement("username", namespace: NS.register, children: [.text(username)]))
            query.append(XElement("password", namespace: NS.register))
            return .success(query)
        }
        registrar.handleIQ("query", namespace: NS.register, types: [.set], target: .account) { request in
            guard request.to == request.from.bare, let username = request.from.localpart else {
                return .failure(StanzaError(.forbidden))
            }
            let query = request.payload
            if query.child("remove", namespace: NS.register) != nil {
                return await remove(request, kernel: kernel)
            }
            // XEP-0077 §3.3: password change; the username, when given, must be the user's own.
            guard let password = query.child("password", namespace: NS.register)?.text, !password.isEmpty else {
                return .failure(StanzaError(.badRequest, text: "a password is required"))
            }
            if let given = query.child("username", namespace: NS.register)?.text,
               (try? JID(localpart: given, domainpart: request.from.domainpart, resourcepart: nil))?.localpart != username {
                return .failure(StanzaError(.notAllowed, text: "you can only change your own password"))
            }
            guard let credentials = try? SCRAMCredential.generateAll(password: password, iterations: iterations) else {
                return .failure(StanzaError(.notAcceptable, text: "that password is not allowed"))
            }
            do {
                try await kernel.accounts.setCredentials(username: username, host: request.from.domainpart, credentials: credentials)
                kernel.logger.notice("password changed in band", metadata: ["user": "\(request.from.bare)"])
                return .success(nil)
            } catch {
                return .failure(StanzaError(.internalServerError))
            }
        }
    }

    private func remove(_ request: IQRequest, kernel: Kernel) async -> Result<XElement?, StanzaError> {
        let user = request.from.bare
        do {
            // XEP-0077 §3.2: the result reaches the client before its stream is closed; the kernel's own
            // reply afterwards finds the session gone.
            let result = request.stanza.iqResult(from: user.description)
            _ = try await kernel.deleteAccount(user, lastWords: (request.from, result))
            kernel.logger.notice("account removed in band", metadata: ["user": "\(user)"])
            return .success(nil)
        } catch {
            return .failure(StanzaError(.internalServerError))
        }
    }
}
