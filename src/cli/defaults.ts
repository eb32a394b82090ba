// The defaults the commands use and their help shows, in one light module: `--help` and
// completion read them without loading the commands themselves.

/** The config read when neither -c nor $RAMPART_CONFIG names one. */
export const DEFAULT_CONFIG = 'rampart.yaml';

/** `down`: longest wait for a running controller to stop (it finishes its action in flight first). */
export const DEFAULT_STOP_WAIT = '2m';

/** `history`: records shown when --limit is not given. */
export const DEFAULT_HISTORY_LIMIT = '50';

/** `pool`: longest wait for the controller to take a request. */
export const DEFAULT_REQUEST_WAIT = '2m';

/** `init`: the template written when --template is not given. */
export const DEFAULT_TEMPLATE = 'local';
