/** The path of the statevtab loadable extension in this package. */
export declare function getLoadablePath(): string;
/** Load statevtab into a database that has loadExtension(path). */
export declare function load(db: { loadExtension(path: string): unknown }): void;
