'use strict';

// Finds the native addon for this platform. A published install gets it from one
// of the per-platform packages (`glair-vision-<platform>`, an optionalDependency
// of which npm installs only the one matching `os`/`cpu`/`libc`); a clone of the
// repository finds `glair-vision.<platform>.node` built by `npm run build` beside
// this package first. Nothing is compiled or downloaded here.

const fs = require('node:fs');
const path = require('node:path');

const PKG_DIR = path.join(__dirname, '..');
const { name: PKG_NAME, version: PKG_VERSION } = require('../package.json');

/** The platforms a binary is published for (`<os>-<arch>[-<abi>]`, as in the package names). */
const SUPPORTED = Object.freeze([
  'linux-x64-gnu',
  'linux-arm64-gnu',
  'linux-x64-musl',
  'linux-arm64-musl',
  'darwin-x64',
  'darwin-arm64',
  'win32-x64-msvc',
]);

// musl (Alpine) vs glibc: the system's ldd names its libc; without it, a glibc
// process reports its runtime version and a musl one does not.
function isMusl() {
  try {
    return fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl');
  } catch {
    // no ldd (distroless, some slim images): ask the process report
  }
  if (process.report && typeof process.report.getReport === 'function') {
    process.report.excludeNetwork = true;
    const header = process.report.getReport().header || {};
    return !header.glibcVersionRuntime;
  }
  return false;
}

function platformKey() {
  const { platform, arch } = process;
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`;
  if (platform === 'win32') return `win32-${arch}-msvc`;
  return `${platform}-${arch}`;
}

function notFound(err) {
  return err && err.code === 'MODULE_NOT_FOUND';
}

function load() {
  const key = platformKey();
  const errors = [];

  // 1. A local build (`npm run build` in a clone), found before any installed package.
  const local = path.join(PKG_DIR, `glair-vision.${key}.node`);
  if (fs.existsSync(local)) return require(local);

  // 2. The platform package npm installed beside this one.
  const platformPkg = `${PKG_NAME}-${key}`;
  if (SUPPORTED.includes(key)) {
    let pkgVersion;
    try {
      pkgVersion = require(`${platformPkg}/package.json`).version;
    } catch (err) {
      if (!notFound(err)) throw err;
      errors.push(`${platformPkg} is not installed`);
    }
    if (pkgVersion !== undefined) {
      if (pkgVersion !== PKG_VERSION) {
        throw new Error(
          `glair-vision: ${platformPkg}@${pkgVersion} is installed but glair-vision@${PKG_VERSION} needs the same version; ` +
            `reinstall both (npm install glair-vision@${PKG_VERSION}).`,
        );
      }
      return require(platformPkg);
    }
  }

  const hint = SUPPORTED.includes(key)
    ? `Its binary comes in the optional dependency ${platformPkg}, which was not installed: ` +
      'reinstall without --no-optional / --omit=optional, and install on the platform that runs the code ' +
      '(a node_modules copied from another OS, CPU or libc has the wrong binary).'
    : 'No binary is published for this platform.';
  const e = new Error(
    `glair-vision: no native addon for this platform (${key}, Node ${process.version}). ` +
      `Supported platforms: ${SUPPORTED.join(', ')}. ${hint}` +
      (errors.length ? ` (${errors.join('; ')})` : ''),
  );
  e.code = 'GLAIR_VISION_UNSUPPORTED_PLATFORM';
  e.platform = key;
  e.supported = SUPPORTED;
  throw e;
}

module.exports = load();
