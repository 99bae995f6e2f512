// The package root: every public name of multiloop is exported from here.
export {};
