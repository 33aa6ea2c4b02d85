package main

func profileSection(title, cpu, heap string) string { return "" }
