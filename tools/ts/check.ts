// check.ts — holds the hand-written declarations of the browser library
// (static/js/cometplay.d.ts, rooms.d.ts) to the JavaScript they declare.
//
// "../../static/js/x.js" resolves to x.d.ts (a declaration file beside a
// script stands in for it); "./impl/x.js" is a copy of the script alone
// (scripts/typecheck.sh makes it), whose types TypeScript infers from the
// code and its JSDoc. For each module the check asks that:
//
// 1. the code exports exactly what the declarations do;
// 2. each export of the code has the declared type (assignable to it);
// 3. each exported class has exactly the declared public members, and each
//    method and function takes as many parameters as declared (optional
//    ones included).
//
// A .d.ts that disagrees with the code fails `tsc`, hence `make types`.

import * as cometDecl from '../../static/js/cometplay.js';
import * as cometImpl from './impl/cometplay.js';
import * as roomsDecl from '../../static/js/rooms.js';
import * as roomsImpl from './impl/rooms.js';

/** Equal is true when A and B are the same type (as sets of keys, literals…). */
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Arity is the number of parameters of a function type (a union when some are optional). */
type Arity<F> = F extends (...args: infer P) => any ? P['length'] : never;

/** Mismatch lists the keys of functions whose arity differs between Impl and Decl. */
type ArityMismatch<Impl, Decl> = {
	[K in keyof Decl & keyof Impl]: Decl[K] extends (...args: any[]) => any
		? Equal<Arity<Impl[K]>, Arity<Decl[K]>> extends true ? never : K
		: never;
}[keyof Decl & keyof Impl];

/** Members lists the keys present on one side only. */
type OneSided<Impl, Decl> = Exclude<keyof Impl, keyof Decl> | Exclude<keyof Decl, keyof Impl>;

/** Ok is what a check must be: never means it holds (else the type names what differs). */
function ok<T extends never>(): void {}

// cometplay.js
ok<OneSided<typeof cometImpl, typeof cometDecl>>();
const cometExports: typeof cometDecl = cometImpl;
ok<ArityMismatch<typeof cometImpl, typeof cometDecl>>();
ok<OneSided<cometImpl.CometClient, cometDecl.CometClient>>();
ok<ArityMismatch<cometImpl.CometClient, cometDecl.CometClient>>();
ok<OneSided<cometImpl.CometError, cometDecl.CometError>>();
ok<OneSided<cometImpl.Emitter, cometDecl.Emitter>>();
ok<ArityMismatch<cometImpl.Emitter, cometDecl.Emitter>>();
ok<Equal<ConstructorParameters<typeof cometImpl.CometClient>['length'], ConstructorParameters<typeof cometDecl.CometClient>['length']> extends true ? never : 'CometClient constructor'>();
ok<Equal<ConstructorParameters<typeof cometImpl.CometError>['length'], ConstructorParameters<typeof cometDecl.CometError>['length']> extends true ? never : 'CometError constructor'>();

// rooms.js
ok<OneSided<typeof roomsImpl, typeof roomsDecl>>();
const roomsExports: typeof roomsDecl = roomsImpl;
ok<ArityMismatch<typeof roomsImpl, typeof roomsDecl>>();
ok<OneSided<roomsImpl.RoomsClient, roomsDecl.RoomsClient>>();
ok<ArityMismatch<roomsImpl.RoomsClient, roomsDecl.RoomsClient>>();
ok<Equal<ConstructorParameters<typeof roomsImpl.RoomsClient>['length'], ConstructorParameters<typeof roomsDecl.RoomsClient>['length']> extends true ? never : 'RoomsClient constructor'>();

export { cometExports, roomsExports };

// The code's JSDoc types resolve (an unknown name there would be any).
ok<Equal<cometImpl.CometError['code'], cometDecl.CometErrorCode> extends true ? never : 'CometError.code'>();
