import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { ConfigError, loadConfig, parseMasterKeys } from "../src/config.ts";
import { DomainError } from "../src/kernel/errors.ts";
import { KeyRing, openEnvelope, rewrapEnvelope, sealEnvelope, VaultError } from "../src/vault/envelope.ts";
import { generateMasterKey, MASTER_KEY_FILE, resolveKeyRing } from "../src/vault/key-ring.ts";
import { createVault, type SecretPlace } from "../src/vault/vault.ts";
import { ManualClock } from "./helpers/clock.ts";
import { createTestDatabase, DB_KINDS, type TestDatabase } from "./helpers/databases.ts";
import { uuidv7 } from "../src/kernel/ids.ts";

const keyEntry = (id: string) => `${id}:${randomBytes(32).toString("base64")}`;
const ring = (...entries: string[]) => new KeyRing(parseMasterKeys(entries.join(",")));

describe("envelope encryption (AES-256-GCM, a data key per record, wrapped by a master key)", () => {
  const k1 = ring(keyEntry("k1"));
  const aad = Buffer.from("place-a");

  it("seals and opens; the same plaintext sealed twice shares no bytes (fresh data key and IVs)", () => {
    const plaintext = Buffer.from("sk_live_envelope");
    const a = sealEnvelope(k1, aad, plaintext);
    const b = sealEnvelope(k1, aad, plaintext);
    assert.equal(a.masterKeyId, "k1");
    assert.deepEqual(openEnvelope(k1, aad, a), plaintext);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
    assert.notDeepEqual(a.wrappedKey, b.wrappedKey);
    assert.ok(!a.ciphertext.includes(plaintext));
  });

  it("does not open under other authenticated data, or with any byte altered", () => {
    const sealed = sealEnvelope(k1, aad, Buffer.from("secret"));
    assert.throws(() => openEnvelope(k1, Buffer.from("place-b"), sealed), (e: unknown) => e instanceof VaultError && e.code === "does_not_open");
    for (const field of ["ciphertext", "wrappedKey"] as const) {
      for (const at of [5, 20, sealed[field].length - 1]) {
        const bad = { ...sealed, [field]: Buffer.from(sealed[field]) };
        bad[field].writeUInt8(bad[field].readUInt8(at) ^ 1, at);
        assert.throws(() => openEnvelope(k1, aad, bad), VaultError, `${field}[${at}]`);
      }
    }
    assert.throws(() => openEnvelope(k1, aad, { ...sealed, ciphertext: Buffer.alloc(3) }), /malformed/);
  });

  it("a blob under a key that left the ring fails loudly, naming the key id and nothing secret", () => {
    const old = keyEntry("k1");
    const sealed = sealEnvelope(ring(old), aad, Buffer.from("secret"));
    const err = (() => {
      try {
        openEnvelope(ring(keyEntry("k2")), aad, sealed);
      } catch (e) {
        return e;
      }
      return null;
    })();
    assert.ok(err instanceof VaultError && err.code === "master_key_missing");
    assert.match(err.message, /"k1".*not in PATCHBAY_MASTER_KEYS/);
    assert.ok(!err.message.includes(old.split(":")[1]!));
  });

  it("rewrap re-seals only the data key: the ciphertext is untouched and opens under the new key alone", () => {
    const e1 = keyEntry("k1");
    const e2 = keyEntry("k2");
    const sealed = sealEnvelope(ring(e1), aad, Buffer.from("rotate me"));
    const rewrapped = rewrapEnvelope(ring(e2, e1), aad, sealed);
    assert.equal(rewrapped.masterKeyId, "k2");
    assert.deepEqual(rewrapped.ciphertext, sealed.ciphertext);
    assert.equal(openEnvelope(ring(e2), aad, rewrapped).toString(), "rotate me");
  });

  it("master keys are opaque to logging", () => {
    const entry = keyEntry("k1");
    const printed = inspect(parseMasterKeys(entry), { depth: 5 }) + JSON.stringify(parseMasterKeys(entry));
    assert.ok(!printed.includes(entry.split(":")[1]!), printed);
  });
});

describe("PATCHBAY_MASTER_KEYS is validated at start", () => {
  it("accepts id:base64key entries, newest first", () => {
    const keys = parseMasterKeys(` ${keyEntry("new")} , ${keyEntry("old.2024-01")}`);
    assert.deepEqual(keys.map((k) => k.id), ["new", "old.2024-01"]);
    const urlSafe = `k:${randomBytes(32).toString("base64url")}`;
    assert.equal(parseMasterKeys(urlSafe)[0]!.key.symmetricKeySize, 32);
    assert.equal(loadConfig({ PATCHBAY_MASTER_KEYS: keyEntry("a") }).masterKeys?.[0]?.id, "a");
  });

  it("refuses malformed rings with the variable, entry and reason, never echoing key material", () => {
    const short = randomBytes(16).toString("base64");
    const cases: [string, RegExp][] = [
      [randomBytes(32).toString("base64"), /entry 1 of 1 is not in the form id:base64key/],
      [`bad id:${randomBytes(32).toString("base64")}`, /key id must be/],
      [`k1:${short}`, /must be 32 bytes \(256 bits\), got 16/],
      [`k1:not*base64!${short}`, /not valid base64/],
      [`${keyEntry("k1")},${keyEntry("k1")}`, /"k1" appears twice/],
      [`${keyEntry("k1")},`, /entry 2 of 2/],
    ];
    for (const [raw, reason] of cases) {
      assert.throws(
        () => loadConfig({ PATCHBAY_MASTER_KEYS: raw }),
        (e: unknown) => e instanceof ConfigError && e.variable === "PATCHBAY_MASTER_KEYS" && reason.test(e.message) && !e.message.includes(short) && !e.message.includes(raw.slice(3, 30)),
        raw,
      );
    }
  });
});

describe("embedded mode without a key generates one into the data dir; PostgreSQL refuses to start", () => {
  it("writes a 0600 key file once and reuses it", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "patchbay-keys-"));
    try {
      const config = loadConfig({ PATCHBAY_DATA_DIR: dataDir });
      const first = resolveKeyRing(config);
      const file = path.join(dataDir, MASTER_KEY_FILE);
      assert.equal(first.generatedFile, file);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const second = resolveKeyRing(config);
      assert.equal(second.generatedFile, null);
      assert.equal(second.ring.newest.id, first.ring.newest.id);
      const configured = resolveKeyRing(loadConfig({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_MASTER_KEYS: keyEntry("env") }));
      assert.equal(configured.ring.newest.id, "env", "PATCHBAY_MASTER_KEYS wins over the file");
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("PostgreSQL without PATCHBAY_MASTER_KEYS: a ConfigError that says how to make one", () => {
    const config = loadConfig({ DATABASE_URL: "postgres://postgres@127.0.0.1:5432/postgres", PATCHBAY_DATA_DIR: os.tmpdir() });
    assert.throws(() => resolveKeyRing(config), (e: unknown) => e instanceof ConfigError && e.variable === "PATCHBAY_MASTER_KEYS" && /npx patchbay master-key new/.test(e.message));
  });

  it("master-key new makes entries the ring accepts, each one different", () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    assert.notEqual(a, b);
    assert.match(a, /^mk-\d{8}-[A-Za-z0-9]{6}:/);
    assert.equal(parseMasterKeys(`${a},${b}`).length, 2);
  });
});

for (const kind of DB_KINDS) {
  describe(`[${kind}] the vault table`, () => {
    let database: TestDatabase;
    const clock = new ManualClock();
    const e1 = keyEntry("k1");
    const e2 = keyEntry("k2");
    before(async () => {
      database = await createTestDatabase(kind);
    });
    after(async () => database.close());

    const vaultWith = (...entries: string[]) => createVault({ db: database.db, ring: ring(...entries), clock });
    const newEntity = async () => {
      const id = uuidv7();
      await database.db.insertInto("entities").values({ id, name: "vault test", created_at: new Date() }).execute();
      return id;
    };
    const place = (entityId: string, purpose = "test.secret"): SecretPlace => ({ entityId, ownerId: uuidv7(), purpose });

    describe("AAD binds each blob to its entity, record and purpose", () => {
      it("a blob copied onto another record's row does not open there", async () => {
        const vault = vaultWith(e1);
        const entity = await newEntity();
        const a = place(entity);
        const b = place(entity);
        await vault.sealSecret(database.db, a, { token: "tok_A" });
        await vault.sealSecret(database.db, b, { token: "tok_B" });
        const rowA = await database.db.selectFrom("vault_secrets").selectAll().where("owner_id", "=", a.ownerId).executeTakeFirstOrThrow();
        await database.db
          .updateTable("vault_secrets")
          .set({ master_key_id: rowA.master_key_id, wrapped_key: rowA.wrapped_key, ciphertext: rowA.ciphertext })
          .where("owner_id", "=", b.ownerId)
          .execute();
        await assert.rejects(vault.openSecret(database.db, b), (e: unknown) => e instanceof VaultError && e.code === "does_not_open");
        assert.deepEqual(await vault.openSecret(database.db, a), { token: "tok_A" }, "the original still opens");
      });

      it("the same record's blob does not open for another purpose or another entity", async () => {
        const vault = vaultWith(e1);
        const entity = await newEntity();
        const p = place(entity, "connector.credentials");
        await vault.sealSecret(database.db, p, "value");
        await database.db.updateTable("vault_secrets").set({ purpose: "shopify.tokens" }).where("owner_id", "=", p.ownerId).execute();
        await assert.rejects(vault.openSecret(database.db, { ...p, purpose: "shopify.tokens" }), VaultError);
        await database.db.updateTable("vault_secrets").set({ purpose: p.purpose }).where("owner_id", "=", p.ownerId).execute();
        await assert.rejects(vault.openSecret(database.db, { ...p, entityId: await newEntity() }), VaultError);
        assert.equal(await vault.openSecret(database.db, p), "value");
      });
    });

    describe("seal, open and destroy by place", () => {
      it("one row per (record, purpose); re-sealing replaces; destroy removes blob and data key", async () => {
        const vault = vaultWith(e1);
        const entity = await newEntity();
        const p = place(entity);
        const id1 = await vault.sealSecret(database.db, p, { v: 1 });
        const id2 = await vault.sealSecret(database.db, p, { v: 2 });
        assert.equal(id1, id2);
        assert.deepEqual(await vault.openSecret(database.db, p), { v: 2 });
        assert.equal(await vault.openSecret(database.db, place(entity)), null, "nothing at an empty place");
        assert.equal(await vault.destroySecret(database.db, p), true);
        assert.equal(await vault.destroySecret(database.db, p), false);
        assert.equal(await vault.openSecret(database.db, p), null);
        const other = { ...p, purpose: "other" };
        await vault.sealSecret(database.db, p, "x");
        await vault.sealSecret(database.db, other, "y");
        assert.equal(await vault.destroySecretsOf(database.db, [p.ownerId]), 2);
      });

      it("a secret sealed inside a rolled-back transaction does not exist", async () => {
        const vault = vaultWith(e1);
        const p = place(await newEntity());
        await assert.rejects(
          database.db.transaction().execute(async (trx) => {
            await vault.sealSecret(trx, p, "never");
            throw new Error("rollback");
          }),
          /rollback/,
        );
        assert.equal(await vault.openSecret(database.db, p), null);
      });
    });

    describe("master-key rotation: add the new key first, rewrap, then drop the old key", () => {
      it("after rewrap every secret opens with only the new key; progress is reported batch by batch", async () => {
        await database.db.deleteFrom("vault_secrets").execute();
        const entity = await newEntity();
        const places = Array.from({ length: 250 }, (_, i) => place(entity, `p${i % 3}`));
        const old = vaultWith(e1);
        for (const [i, p] of places.entries()) await old.sealSecret(database.db, p, { n: i });
        const before = await database.db.selectFrom("vault_secrets").select(["id", "ciphertext"]).orderBy("id").execute();

        const rotating = vaultWith(e2, e1);
        assert.deepEqual(await rotating.status(), {
          newest_key_id: "k2",
          configured_key_ids: ["k2", "k1"],
          secrets_by_key: [{ key_id: "k1", secrets: 250, configured: true }],
          remaining: 250,
          unreadable: 0,
        });
        assert.deepEqual(await old.openSecret(database.db, places[0]!), { n: 0 });
        // Meanwhile the running server seals new secrets under the new key.
        const fresh = place(entity);
        await rotating.sealSecret(database.db, fresh, "sealed during rotation");
        const progress: number[] = [];
        for (;;) {
          const p = await rotating.rewrapBatch(100);
          progress.push(p.remaining);
          if (p.remaining === 0) break;
        }
        assert.deepEqual(progress, [150, 50, 0]);

        const newOnly = vaultWith(e2);
        for (const [i, p] of places.entries()) assert.deepEqual(await newOnly.openSecret(database.db, p), { n: i });
        assert.equal(await newOnly.openSecret(database.db, fresh), "sealed during rotation");
        const after = await database.db.selectFrom("vault_secrets").select(["id", "ciphertext"]).where("id", "in", before.map((r) => r.id)).orderBy("id").execute();
        assert.deepEqual(after, before, "only the data keys were rewrapped");
        assert.deepEqual((await newOnly.status()).secrets_by_key, [{ key_id: "k2", secrets: 251, configured: true }]);
        await assert.rejects(old.openSecret(database.db, places[0]!), (e: unknown) => e instanceof VaultError && e.code === "master_key_missing");
      });

      it("is resumable and safe beside other rewraps: concurrent runners each take their own rows", async () => {
        await database.db.deleteFrom("vault_secrets").execute();
        const entity = await newEntity();
        const old = vaultWith(e1);
        const places = Array.from({ length: 120 }, () => place(entity));
        for (const p of places) await old.sealSecret(database.db, p, "s");
        const a = vaultWith(e2, e1);
        const b = vaultWith(e2, e1);
        // Interrupted after one batch, then two runners finish the rest side by side.
        assert.equal((await a.rewrapBatch(10)).rewrapped, 10);
        let done = 10;
        for (;;) {
          const [pa, pb] = await Promise.all([a.rewrapBatch(15), b.rewrapBatch(15)]);
          done += pa.rewrapped + pb.rewrapped;
          if (pa.remaining === 0 && pb.remaining === 0) break;
        }
        assert.equal(done, 120, "every secret rewrapped exactly once");
        const newOnly = vaultWith(e2);
        for (const p of places) assert.equal(await newOnly.openSecret(database.db, p), "s");
      });

      it("secrets under a key the ring lacks are counted as unreadable, and a damaged one stops the rewrap loudly", async () => {
        await database.db.deleteFrom("vault_secrets").execute();
        const entity = await newEntity();
        const lost = keyEntry("k0");
        await vaultWith(lost).sealSecret(database.db, place(entity), "orphan");
        const damaged = place(entity);
        await vaultWith(e1).sealSecret(database.db, damaged, "damaged");
        await database.db.updateTable("vault_secrets").set({ ciphertext: Buffer.alloc(40, 7) }).where("owner_id", "=", damaged.ownerId).execute();

        const rotating = vaultWith(e2, e1);
        const status = await rotating.status();
        assert.equal(status.unreadable, 1);
        assert.deepEqual(status.secrets_by_key.find((k) => k.key_id === "k0"), { key_id: "k0", secrets: 1, configured: false });
        await assert.rejects(rotating.rewrapBatch(), (e: unknown) => e instanceof DomainError && e.code === "secret_does_not_open" && e.message.includes(damaged.ownerId));
        assert.equal((await rotating.status()).remaining, 1, "the failed batch changed nothing");
      });
    });
  });
}
