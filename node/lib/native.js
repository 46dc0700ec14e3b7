'use strict';

// Loads the addon through the loader that `napi build` generates (../native.js).
let native;
try {
  native = require('../native.js');
} catch (err) {
  const e = new Error(
    'glair-vision: the native addon is not built or not available for this platform ' +
      `(${process.platform}-${process.arch}). Run \`npm run build\` in the package directory. Cause: ${err && err.message}`,
  );
  e.cause = err;
  throw e;
}
module.exports = native;
