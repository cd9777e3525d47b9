import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { IMAGE_KEY_FILE, imageKey, seedFromImage } from "../src/db/pglite-image.ts";
// @ts-expect-error: a plain ES module without type declarations
import { ensureBuilt, PGLITE_IMAGE } from "../scripts/build.mjs";
import { startServerProcess, tempDir, type ServerProcess } from "./helpers/process.ts";

const ADMIN = "pb_admin_image_test_token_0123456789ab";

/** A stand-in image: what seedFromImage checks (PG_VERSION, the key file) and a file to find again. */
function fakeImage(key = imageKey()): string {
  const dir = tempDir("patchbay-fake-image-");
  fs.writeFileSync(path.join(dir, "PG_VERSION"), "18\n");
  fs.mkdirSync(path.join(dir, "base", "1"), { recursive: true });
  fs.writeFileSync(path.join(dir, "base", "1", "1259"), "relation");
  fs.writeFileSync(path.join(dir, IMAGE_KEY_FILE), key);
  return dir;
}

describe("the embedded database's first start from the build's image (issue 16 point 4)", () => {
  it("an empty data dir gets a copy of the image, renamed into place whole, without the key file or a staging dir", async () => {
    const image = fakeImage();
    const dataDir = tempDir();
    assert.equal(await seedFromImage(path.join(dataDir, "pglite"), image), true);
    assert.equal(fs.readFileSync(path.join(dataDir, "pglite", "base", "1", "1259"), "utf8"), "relation");
    assert.equal(fs.existsSync(path.join(dataDir, "pglite", IMAGE_KEY_FILE)), false);
    assert.deepEqual(fs.readdirSync(dataDir), ["pglite"]);
  });

  it("never overwrites: a data dir already holding a database (or anything under pglite/) is left as it was", async () => {
    const image = fakeImage();
    const dataDir = tempDir();
    fs.mkdirSync(path.join(dataDir, "pglite"));
    fs.writeFileSync(path.join(dataDir, "pglite", "PG_VERSION"), "mine\n");
    assert.equal(await seedFromImage(path.join(dataDir, "pglite"), image), false);
    assert.deepEqual(fs.readdirSync(path.join(dataDir, "pglite")), ["PG_VERSION"]);
    assert.equal(fs.readFileSync(path.join(dataDir, "pglite", "PG_VERSION"), "utf8"), "mine\n");
  });

  it("a start that died mid-copy left only a staging dir: it is removed and the copy made again", async () => {
    const image = fakeImage();
    const dataDir = tempDir();
    fs.mkdirSync(path.join(dataDir, "pglite.from-image-99999", "base"), { recursive: true });
    assert.equal(await seedFromImage(path.join(dataDir, "pglite"), image), true);
    assert.deepEqual(fs.readdirSync(dataDir), ["pglite"]);
  });

  it("an image made for other migrations or another PGlite is not used (PGlite runs initdb as before)", async () => {
    const dataDir = tempDir();
    assert.equal(await seedFromImage(path.join(dataDir, "pglite"), fakeImage("0000000000000000")), false);
    assert.equal(await seedFromImage(path.join(dataDir, "pglite"), path.join(dataDir, "no-such-image")), false);
    assert.deepEqual(fs.readdirSync(dataDir), []);
  });

  describe("npm start on an empty data dir", () => {
    let dataDir: string;
    let server: ServerProcess;
    before(async () => {
      await ensureBuilt();
      dataDir = tempDir();
      server = await startServerProcess({ PATCHBAY_DATA_DIR: dataDir, PATCHBAY_ADMIN_TOKEN: ADMIN, LOG_LEVEL: "info", PATCHBAY_JOBS: "false" }, 120_000, "scripts/start.mjs");
    });
    after(async () => {
      await server?.stop();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it("the build made a migrated image; the server starts from it: no migration runs, the database answers and writes", async () => {
      assert.equal(fs.readFileSync(path.join(PGLITE_IMAGE, IMAGE_KEY_FILE), "utf8").trim(), imageKey());
      const ready = server
        .stdout()
        .split("\n")
        .filter((l) => l.includes("patchbay ready"))
        .map((l) => JSON.parse(l) as { migrated: string[] });
      assert.equal(ready.length, 1, server.stdout().slice(-2000));
      // initdb + migrations would have applied every migration here; the image already holds them.
      assert.deepEqual(ready[0]!.migrated, []);
      assert.ok(fs.existsSync(path.join(dataDir, "pglite", "PG_VERSION")));
      assert.equal(fs.existsSync(path.join(dataDir, "pglite", IMAGE_KEY_FILE)), false);
      const created = await fetch(`${server.url}/admin/v1/entities`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "From the image" }),
      });
      assert.equal(created.status, 201, await created.text());
      const listed = (await (await fetch(`${server.url}/admin/v1/entities`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { data: Array<{ name: string }> };
      assert.ok(listed.data.some((e) => e.name === "From the image"));
    });

    it("the image holds no free space or visibility map files, and a database copied from it reads, writes and vacuums", async () => {
      const mapForks: string[] = [];
      const walk = (dir: string): void => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(dir, e.name));
          else if (/_(fsm|vm)$/.test(e.name)) mapForks.push(e.name);
        }
      };
      walk(PGLITE_IMAGE);
      assert.deepEqual(mapForks, []);
      const copy = path.join(tempDir(), "pglite");
      assert.equal(await seedFromImage(copy, PGLITE_IMAGE), true);
      const { PGlite } = await import("@electric-sql/pglite");
      const pg = await PGlite.create(copy);
      try {
        await pg.exec("create table image_check (id int primary key, v text); insert into image_check select g, repeat('x', 200) from generate_series(1, 5000) g;");
        await pg.exec("delete from image_check where id % 2 = 0");
        // One statement each: VACUUM runs outside a transaction block.
        await pg.exec("vacuum analyze image_check");
        await pg.exec("vacuum analyze");
        await pg.exec("insert into image_check select g * 2, 'again' from generate_series(1, 100) g");
        const n = await pg.query<{ n: number }>("select count(*)::int as n from image_check");
        assert.equal(n.rows[0]!.n, 2600);
        const forks = await pg.query<{ fsm: boolean; vm: boolean }>("select pg_relation_size('image_check', 'fsm') > 0 as fsm, pg_relation_size('image_check', 'vm') > 0 as vm");
        assert.deepEqual(forks.rows[0], { fsm: true, vm: true });
        await pg.exec("vacuum");
      } finally {
        await pg.close();
      }
    });
  });
});
