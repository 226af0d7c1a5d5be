CREATE DATABASE msa_protected OWNER jetdr;
CREATE DATABASE msa_recovery OWNER jetdr;
