// The program's version, from package.json: a module of its own, so what needs only the version
// (the database's user_version note, /metrics, --version) does not load the settings code.
import pkg from "../package.json";

export const VERSION: string = pkg.version;
