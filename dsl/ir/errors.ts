/** A VM IR program is malformed: the message names the instruction and the mismatch. */
export class VmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VmError';
  }
}

/** A launch's arguments do not fit the program's params: the message names the param. */
export class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchError';
  }
}
