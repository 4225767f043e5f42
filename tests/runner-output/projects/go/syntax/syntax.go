package syntax

func One() int { return 1 }
