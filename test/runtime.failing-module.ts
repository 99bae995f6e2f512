/** A worker module that throws while loading, for the Runtime tests. */
throw new Error('this module cannot load');
