import XMPPAddress

extension SCRAMCredential {
    /// Derives the stored keys for `password` (RFC 5802 §3).
    ///
    /// The password is prepared with the PRECIS OpaqueString profile (RFC 8265 §4.2), which RFC 8265
    /// makes the successor of SASLprep for SCRAM (RFC 7677 §4). `salt` must not be empty and
    /// `iterations` must be at least 1 (RFC 5802 §5.1 and RFC 7677 §4 recommend 4096 or more);
    /// violating either is a programming error and traps.
    public static func derive(password: String, hash: SCRAMHash, salt: [UInt8], iterations: Int) throws(PRECISError) -> SCRAMCredential {
        precondition(!salt.isEmpty, "SCRAM salt must not be empty")
        precondition(SCRAMHash.validIterations.contains(iterations), "SCRAM iteration count out of range")
        let prepared = try PRECIS.opaqueString(password)
        guard let salted = hash.saltedPassword(Array(prepared.utf8), salt: salt, iterations: iterations) else {
            // Parameters were checked above and OpaqueString never yields an empty string, so only an
            // internal BoringSSL failure (e.g. out of memory) can land here.
            fatalError("PBKDF2 failed")
        }
        let keys = hash.keys(saltedPassword: salted)
        return SCRAMCredential(hash: hash, salt: salt, iterations: iterations, storedKey: keys.storedKey, serverKey: keys.serverKey)
    }

    /// One credential per `SCRAMHash`, each with its own random 16-byte salt, for storing a new password.
    public static func generateAll(password: String, iterations: Int) throws(PRECISError) -> [SCRAMCredential] {
        var result: [SCRAMCredential] = []
        for hash in SCRAMHash.allCases {
            result.append(try derive(password: password, hash: hash, salt: secureRandomBytes(16), iterations: iterations))
        }
        return result
    }
}
