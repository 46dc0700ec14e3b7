'use strict';

const { ValidationError } = require('./errors');

const TYPE_MARKER = '\u0000glair_type';

function pad(n, width) {
  return String(n).padStart(width, '0');
}

/**
 * A JS `Date` as an ISO calendar date (yyyy-mm-dd), taken from the Date's
 * **local** calendar fields (getFullYear/getMonth/getDate): `new Date(1990, 7, 5)`
 * and the local-midnight Dates that database drivers return for DATE columns
 * mean 5 August 1990 whatever the machine's time zone.
 */
function dateToIso(date, field) {
  if (Number.isNaN(date.getTime())) {
    throw new ValidationError(`invalid ${field}: is an invalid Date`, { field });
  }
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1, 2)}-${pad(date.getDate(), 2)}`;
}

/**
 * Whether a string is valid Unicode: no lone UTF-16 surrogate, which UTF-8 (and
 * so the core) cannot hold. `isWellFormed` is Node 20+; the `u` regex treats a
 * surrogate pair as one code point, so it only matches lone halves.
 */
const isWellFormed =
  typeof String.prototype.isWellFormed === 'function'
    ? (s) => s.isWellFormed()
    : (s) => !/[\uD800-\uDFFF]/u.test(s);

/** A string with its lone surrogates replaced by U+FFFD. */
function toWellFormed(s) {
  return typeof s.toWellFormed === 'function' ? s.toWellFormed() : s.replace(/[\uD800-\uDFFF]/gu, '\uFFFD');
}

/** Marker kind for text that is not valid Unicode (convert.rs names the field). */
const ILL_FORMED = 'ill-formed text';

/** What a value is, for the type marker: `typeof`, but arrays and Dates apart. */
function kindOf(value) {
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  return typeof value;
}

function marker(kind) {
  return { [TYPE_MARKER]: kind };
}

/**
 * Prepares one record for the native layer: drops `undefined` (unset), turns
 * Dates into ISO dates, and replaces by a type marker every value JSON cannot
 * carry faithfully (functions, symbols, bigints, NaN, text with a lone UTF-16
 * surrogate) or that can only be a type error (arrays, objects), so the core
 * reports a ValidationError naming the field instead of the value being
 * dropped, or the whole record failing to cross as JSON. Strings, finite
 * numbers, booleans and null are passed as is: the core checks types and values.
 */
function prepareRecord(record) {
  if (record === undefined || record === null) return null;
  if (typeof record !== 'object' || Array.isArray(record) || record instanceof Date) {
    return marker(kindOf(record));
  }
  const out = {};
  for (const rawKey of Object.keys(record)) {
    const value = record[rawKey];
    if (value === undefined) continue;
    const key = isWellFormed(rawKey) ? rawKey : toWellFormed(rawKey); // an unknown key either way
    if (typeof value === 'string') out[key] = isWellFormed(value) ? value : marker(ILL_FORMED);
    else if (value === null || typeof value === 'boolean') out[key] = value;
    else if (typeof value === 'number') out[key] = Number.isFinite(value) ? value : marker('number');
    else if (value instanceof Date) out[key] = dateToIso(value, key);
    else out[key] = marker(kindOf(value));
  }
  return out;
}

/** Like `prepareRecord`, but a bad Date becomes an error for that row only. */
function prepareRow(record) {
  try {
    return { row: prepareRecord(record) };
  } catch (err) {
    if (err instanceof ValidationError) return { error: err };
    throw err;
  }
}

/**
 * JSON.stringify replacer for options: text with a lone surrogate and values
 * JSON cannot carry (bigint, function, symbol) become type markers, so the core
 * names the option instead of failing on the whole JSON text (or a function
 * being silently dropped).
 */
function optionValue(_key, value) {
  if (typeof value === 'string') return isWellFormed(value) ? value : marker(ILL_FORMED);
  // Bytes (PEM): the shape a Buffer's toJSON gives, for a plain Uint8Array too.
  if (value instanceof Uint8Array) return { type: 'Buffer', data: Array.from(value) };
  if (typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol') return marker(typeof value);
  if (typeof value === 'number' && !Number.isFinite(value)) return marker('number');
  return value;
}

/** Options objects: drop undefined, reject non-objects. */
function prepareOptions(options) {
  const { ConfigurationError } = require('./errors');
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigurationError(`options must be an object, not ${Array.isArray(options) ? 'an array' : typeof options}`);
  }
  try {
    return JSON.stringify(options, optionValue);
  } catch (err) {
    // A cycle, or a toJSON that throws.
    throw new ConfigurationError(`options cannot be read: ${err && err.message}`);
  }
}

module.exports = { dateToIso, isWellFormed, prepareRecord, prepareRow, prepareOptions, TYPE_MARKER };
