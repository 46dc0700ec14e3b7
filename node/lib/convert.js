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
 * Prepares one record for the native layer: drops `undefined` (unset), turns
 * Dates into ISO dates, and marks values JSON cannot carry so the core reports
 * them as a type error instead of silently dropping them. Everything else is
 * passed as is: the core checks types and values.
 */
function prepareRecord(record) {
  if (record === undefined) return null;
  if (typeof record === 'function' || typeof record === 'symbol' || typeof record === 'bigint') {
    return { [TYPE_MARKER]: typeof record };
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record) || record instanceof Date) {
    return record;
  }
  const out = {};
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (value === undefined) continue;
    if (value instanceof Date) out[key] = dateToIso(value, key);
    else if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      out[key] = { [TYPE_MARKER]: typeof value };
    } else out[key] = value;
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

/** Options objects: drop undefined, reject non-objects. */
function prepareOptions(options) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) {
    const { ConfigurationError } = require('./errors');
    throw new ConfigurationError(`options must be an object, not ${Array.isArray(options) ? 'an array' : typeof options}`);
  }
  return JSON.stringify(options);
}

module.exports = { dateToIso, prepareRecord, prepareRow, prepareOptions, TYPE_MARKER };
